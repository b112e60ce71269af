#!/usr/bin/env bash
# Before/after from one harness.sh run with BASELINE set: per code base, medians over rounds of the paired
# differences (X − sdk)/sdk for X = all-baseline (before), all (after), and (Y − none)/none for Y = noblock-baseline,
# noblock; wall and CPU.   bash bench/AnalyzerCost/summarize-pairs.sh bench/out/analyzer-cost/harness.tsv
set -euo pipefail
awk -F'\t' '
  function med(list,   n, a, i, j, t) { n = split(list, a, " "); if (n == 0) return "NA"
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return sprintf("%+.1f %%", n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) }
  { k = $1; if (!(k in seen)) { seen[k] = 1; order[++n] = k; lines[k] = $2 }; r[k, $3] = 1; w[k, $3, $4] = $5; c[k, $3, $4] = $6; load[k] = load[k] " " $7 }
  END {
    print "| code base | lines | load (1 min) | before: all − sdk, wall / CPU | after: all − sdk, wall / CPU | before: NoBlock alone − none, wall / CPU | after: NoBlock alone − none, wall / CPU |"
    print "|---|---:|---|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) { k = order[i]; split("", L)
      for (key in r) { split(key, p, SUBSEP); if (p[1] != k) continue; q = p[2]
        # Each pair is taken from the rounds that ran both of its configurations (CONFIGS may leave some out).
        if ((k,q,"sdk") in w && (k,q,"all-baseline") in w) {
          L["bw"] = L["bw"] " " (w[k,q,"all-baseline"] - w[k,q,"sdk"]) / w[k,q,"sdk"] * 100
          L["bc"] = L["bc"] " " (c[k,q,"all-baseline"] - c[k,q,"sdk"]) / c[k,q,"sdk"] * 100 }
        if ((k,q,"sdk") in w && (k,q,"all") in w) {
          L["aw"] = L["aw"] " " (w[k,q,"all"] - w[k,q,"sdk"]) / w[k,q,"sdk"] * 100
          L["ac"] = L["ac"] " " (c[k,q,"all"] - c[k,q,"sdk"]) / c[k,q,"sdk"] * 100 }
        if ((k,q,"none") in w && (k,q,"noblock-baseline") in w) {
          L["nbw"] = L["nbw"] " " (w[k,q,"noblock-baseline"] - w[k,q,"none"]) / w[k,q,"none"] * 100
          L["nbc"] = L["nbc"] " " (c[k,q,"noblock-baseline"] - c[k,q,"none"]) / c[k,q,"none"] * 100 }
        if ((k,q,"none") in w && (k,q,"noblock") in w) {
          L["naw"] = L["naw"] " " (w[k,q,"noblock"] - w[k,q,"none"]) / w[k,q,"none"] * 100
          L["nac"] = L["nac"] " " (c[k,q,"noblock"] - c[k,q,"none"]) / c[k,q,"none"] * 100 } }
      split(load[k], ld, " "); lo = ld[1]; hi = ld[1]; for (j in ld) { if (ld[j] + 0 < lo + 0) lo = ld[j]; if (ld[j] + 0 > hi + 0) hi = ld[j] }
      printf "| %s | %s | %s–%s | %s / %s | %s / %s | %s / %s | %s / %s |\n", k, lines[k], lo, hi, med(L["bw"]), med(L["bc"]), med(L["aw"]), med(L["ac"]), med(L["nbw"]), med(L["nbc"]), med(L["naw"]), med(L["nac"]) }
  }' "${1:?usage: summarize-pairs.sh harness.tsv}"
