#!/usr/bin/env bash
# Turns bench/out/analyzer-cost/runs.tsv (one row per compile, written by run.sh) into the Markdown tables of
# bench/ANALYZER_COST.md: medians per size and configuration, NoBlock's cost, and its cost per 1K lines.
#   bash bench/AnalyzerCost/summarize.sh bench/out/analyzer-cost/runs.tsv
set -euo pipefail
RUNS="${1:?usage: summarize.sh runs.tsv}"

# columns of runs.tsv (see run.sh)
WALL=4 CSC_MS=6 NOBLOCK=7 CSC_WALL=13 CSC_CPU=14 LOAD=15 BLOCKING=16 DRAIN=17

# values SIZE CONFIG COLUMN: that column over the rounds, one per line (NA skipped)
values() { awk -F'\t' -v s="$1" -v c="$2" -v k="$3" 'NR > 1 && $1 == s && $3 == c && $k != "NA" { print $k }' "$RUNS"; }

# paired SIZE COLUMN A B: per round, configuration A minus configuration B (compiles of the same round run one
# after the other, so load drift mostly cancels)
paired() {
  awk -F'\t' -v s="$1" -v k="$2" -v a="$3" -v b="$4" 'NR > 1 && $1 == s && $k != "NA" { v[$2 "," $3] = $k; r[$2] = 1 }
    END { for (i in r) if ((i "," a) in v && (i "," b) in v) print v[i "," a] - v[i "," b] }' "$RUNS"
}

# stdin numbers -> "median" / "min–max"
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "NA"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR == 0) print "NA"; else printf "%s–%s", lo, hi }'; }

# calc EXPRESSION [DECIMALS]: floating-point arithmetic; NA if any operand is NA
calc() { case "$1" in *NA*) echo "NA" ;; *) awk "BEGIN { printf \"%.${2:-1}f\", $1 }" ;; esac; }

sizes=$(awk -F'\t' 'NR > 1 { print $1 }' "$RUNS" | sort -n -u)
first=$(echo "$sizes" | head -1)
rounds=$(awk -F'\t' -v s="$first" 'NR > 1 && $1 == s && $3 == "base"' "$RUNS" | wc -l | tr -d ' ')

echo "### Compile times, medians of $rounds rounds (s)"
echo
echo "\"build\" is the whole \`dotnet build -t:Rebuild --no-dependencies\` of the generated project; \"csc\" is the compiler process alone (wall, and CPU = user + sys over its threads)."
echo
echo "| lines | load (1 min) | base build | base csc wall | base csc CPU | noblock-only build | noblock-only csc wall | noblock-only csc CPU | sdk build | sdk csc wall | sdk csc CPU | all build | all csc wall | all csc CPU |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $sizes; do
  row="| $size | $(awk -F'\t' -v s="$size" -v k=$LOAD 'NR > 1 && $1 == s { print $k }' "$RUNS" | median)"
  for config in base noblock sdk all; do
    row="$row | $(values "$size" $config $WALL | median) | $(values "$size" $config $CSC_WALL | median) | $(values "$size" $config $CSC_CPU | median)"
  done
  echo "$row |"
done
echo
echo "### NoBlock's cost"
echo
echo "ReportAnalyzer's time is elapsed time inside NoBlock's callbacks, summed over threads (it includes waiting for the CPU when the machine is busy, and binding of method bodies that NoBlock asks for first). The CPU deltas are paired round by round: noblock-only − base is NoBlock's code plus the analyzer-driver work that running any analyzer brings (binding every method body for the semantic model, building operation trees); all − sdk is what NoBlock adds to a default build, where the SDK's analyzers already pay for the driver."
echo
echo "| lines | NoBlock (ReportAnalyzer), noblock-only: median (min–max) | NoBlock (ReportAnalyzer), with SDK analyzers | ÷ base csc wall | ÷ base csc CPU | CPU noblock-only − base: median (min–max) | ÷ base csc CPU | CPU all − sdk: median (min–max) | ÷ base csc CPU | NoBlock ms per 1K lines (ReportAnalyzer) | CPU noblock-only − base, ms per 1K lines |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $sizes; do
  nb=$(values "$size" noblock $NOBLOCK | median); nbr=$(values "$size" noblock $NOBLOCK | range)
  na=$(values "$size" all $NOBLOCK | median)
  bw=$(values "$size" base $CSC_WALL | median); bc=$(values "$size" base $CSC_CPU | median)
  d=$(paired "$size" $CSC_CPU noblock base | median); dr=$(paired "$size" $CSC_CPU noblock base | range)
  m=$(paired "$size" $CSC_CPU all sdk | median); mr=$(paired "$size" $CSC_CPU all sdk | range)
  echo "| $size | $nb ($nbr) | $na | $(calc "100 * $nb / $bw")% | $(calc "100 * $nb / $bc")% | $(calc "$d" 2) ($dr) | $(calc "100 * $d / $bc")% | $(calc "$m" 2) ($mr) | $(calc "100 * $m / $bc")% | $(calc "1000 * $nb / ($size / 1000)" 0) | $(calc "1000 * $d / ($size / 1000)" 0) |"
done
echo
echo "### NoBlock's time per analyzer (ReportAnalyzer, noblock-only compiles, medians, s)"
echo
echo "| lines | BlockingCallInHandlerAnalyzer (NB0001/NB0002/NB0005) | EdgeTriggeredDrainAnalyzer (NB0003/NB0004) |"
echo "|---:|---:|---:|"
for size in $sizes; do
  echo "| $size | $(values "$size" noblock $BLOCKING | median) | $(values "$size" noblock $DRAIN | median) |"
done
echo
echo "### Findings in the generated code (distinct locations, noblock-only compiles)"
echo
echo "| lines | NB0001 | NB0002 | NB0003 | NB0004 |"
echo "|---:|---:|---:|---:|---:|"
for size in $sizes; do
  awk -F'\t' -v s="$size" 'NR > 1 && $1 == s && $3 == "noblock" { print "| " s " | " $9 " | " $10 " | " $11 " | " $12 " |"; exit }' "$RUNS"
done
