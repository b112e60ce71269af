#!/usr/bin/env bash
# harness.tsv (name, lines, round, config, wall_s, cpu_s, load1) -> Markdown: medians per configuration, and NoBlock's
# cost as paired per-round differences: all − sdk (over sdk) and noblock − none (over none), wall and CPU; where the
# runs have the summary configuration, a second table: summary − none (the cross-assembly summary generator's cost).
#   bash bench/AnalyzerCost/summarize-harness.sh bench/out/analyzer-cost/harness.tsv
set -euo pipefail
RUNS="${1:?usage: summarize-harness.sh harness.tsv}"
awk -F'\t' '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " "); if (n == 0) return "NA"
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { key = $1; lines[key] = $2; rounds[key, $3] = 1; wall[key, $3, $4] = $5; cpu[key, $3, $4] = $6; loads[key] = loads[key] " " $7
    if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
  END {
    print "| code base | lines | load (1 min, median) | none wall / CPU (s) | sdk wall / CPU | all wall / CPU | noblock wall / CPU | all − sdk, wall | all − sdk, CPU | noblock − none, wall | noblock − none, CPU |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (k = 1; k <= n; k++) {
      key = order[k]
      split("none sdk all noblock", cs, " ")
      for (c = 1; c <= 4; c++) { w[cs[c]] = ""; u[cs[c]] = "" }
      da = ""; dac = ""; db = ""; dbc = ""
      for (rk in rounds) {
        split(rk, p, SUBSEP); if (p[1] != key) continue; r = p[2]
        for (c = 1; c <= 4; c++) if ((key, r, cs[c]) in wall) { w[cs[c]] = w[cs[c]] " " wall[key, r, cs[c]]; u[cs[c]] = u[cs[c]] " " cpu[key, r, cs[c]] }
        if ((key, r, "all") in wall && (key, r, "sdk") in wall) {
          da = da " " (wall[key, r, "all"] - wall[key, r, "sdk"]) / wall[key, r, "sdk"] * 100
          dac = dac " " (cpu[key, r, "all"] - cpu[key, r, "sdk"]) / cpu[key, r, "sdk"] * 100 }
        if ((key, r, "noblock") in wall && (key, r, "none") in wall) {
          db = db " " (wall[key, r, "noblock"] - wall[key, r, "none"]) / wall[key, r, "none"] * 100
          dbc = dbc " " (cpu[key, r, "noblock"] - cpu[key, r, "none"]) / cpu[key, r, "none"] * 100 }
      }
      row = "| " key " | " lines[key] " | " median(loads[key])
      for (c = 1; c <= 4; c++) row = row " | " median(w[cs[c]]) " / " median(u[cs[c]])
      printf "%s | %s | %s | %s | %s |\n", row, fmt(median(da)), fmt(median(dac)), fmt(median(db)), fmt(median(dbc))
    }
    header = 0
    for (k = 1; k <= n; k++) {
      key = order[k]; ws = ""; us = ""; dw = ""; du = ""; m = 0
      for (rk in rounds) {
        split(rk, p, SUBSEP); if (p[1] != key) continue; r = p[2]
        if (!((key, r, "summary") in wall && (key, r, "none") in wall)) continue
        m++; ws = ws " " wall[key, r, "summary"]; us = us " " cpu[key, r, "summary"]
        dw = dw " " (wall[key, r, "summary"] - wall[key, r, "none"]) / wall[key, r, "none"] * 100
        du = du " " (cpu[key, r, "summary"] - cpu[key, r, "none"]) / cpu[key, r, "none"] * 100
      }
      if (m == 0) continue
      if (!header) { print ""; print "| code base | rounds | summary wall / CPU (s) | summary − none, wall | summary − none, CPU |"; print "|---|---:|---:|---:|---:|"; header = 1 }
      printf "| %s | %d | %s / %s | %s | %s |\n", key, m, median(ws), median(us), fmt(median(dw)), fmt(median(du))
    }
  }
  function fmt(v) { return v == "NA" ? "NA" : sprintf("%+.1f %%", v) }
' "$RUNS"
