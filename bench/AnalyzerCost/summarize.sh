#!/usr/bin/env bash
# Turns bench/out/analyzer-cost/runs.tsv (one row per compile, written by run.sh) into the Markdown tables of
# bench/ANALYZER_COST.md: medians per size and configuration, NoBlock's share, and its cost per 1K lines.
#   bash bench/AnalyzerCost/summarize.sh bench/out/analyzer-cost/runs.tsv
set -euo pipefail
RUNS="${1:?usage: summarize.sh runs.tsv}"

# column numbers in runs.tsv
WALL=4 CPU=5 CSC=6 NOBLOCK=7 TOTAL=8

# median SIZE CONFIG COLUMN: the median of that column over the rounds (NA rows skipped).
median() {
  awk -F'\t' -v s="$1" -v c="$2" -v k="$3" 'NR > 1 && $1 == s && $3 == c && $k != "NA" { print $k }' "$RUNS" \
    | sort -g \
    | awk '{ a[NR] = $1 } END { if (NR == 0) print "NA"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

rounds() { awk -F'\t' -v s="$1" 'NR > 1 && $1 == s && $3 == "base"' "$RUNS" | wc -l | tr -d ' '; }

# calc EXPRESSION: floating-point arithmetic, "NA" if any operand is NA.
calc() { case "$1" in *NA*) echo "NA" ;; *) awk "BEGIN { printf \"%.${2:-1}f\", $1 }" ;; esac; }

sizes=$(awk -F'\t' 'NR > 1 { print $1 }' "$RUNS" | sort -n -u)

echo "### Medians per size ($(rounds "$(echo "$sizes" | head -1)") rounds, configurations alternated)"
echo
echo "| lines | base wall (s) | base Csc (s) | noblock-only wall (s) | noblock-only Csc (s) | all analyzers wall (s) | all analyzers Csc (s) | NoBlock analyzer time, noblock-only (s) | NoBlock analyzer time, all (s) | NoBlock ÷ base Csc | NoBlock ms per 1K lines |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $sizes; do
  bw=$(median "$size" base $WALL); bc=$(median "$size" base $CSC)
  nw=$(median "$size" noblock $WALL); nc=$(median "$size" noblock $CSC)
  aw=$(median "$size" all $WALL); ac=$(median "$size" all $CSC)
  nn=$(median "$size" noblock $NOBLOCK); na=$(median "$size" all $NOBLOCK)
  ratio=$(calc "100 * $nn / ($bc / 1000)" 1)
  perk=$(calc "1000 * $nn / ($size / 1000)" 1)
  echo "| $size | $bw | $(calc "$bc / 1000" 1) | $nw | $(calc "$nc / 1000" 1) | $aw | $(calc "$ac / 1000" 1) | $nn | $na | ${ratio}% | $perk |"
done
echo
echo "### What the compile costs in CPU and in Csc time, relative to the base compile (medians)"
echo
echo "| lines | base CPU (s) | noblock-only CPU (s) | all analyzers CPU (s) | noblock-only Csc − base Csc | same, % of base Csc | noblock-only CPU − base CPU | same, % of base CPU |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $sizes; do
  bc=$(median "$size" base $CSC); nc=$(median "$size" noblock $CSC)
  bp=$(median "$size" base $CPU); np=$(median "$size" noblock $CPU); ap=$(median "$size" all $CPU)
  echo "| $size | $bp | $np | $ap | $(calc "($nc - $bc) / 1000" 1) s | $(calc "100 * ($nc - $bc) / $bc" 1)% | $(calc "$np - $bp" 1) s | $(calc "100 * ($np - $bp) / $bp" 1)% |"
done
echo
echo "### Findings in the generated code (distinct, from the noblock-only compiles)"
echo
echo "| lines | NB0001 | NB0002 | NB0003 | NB0004 |"
echo "|---:|---:|---:|---:|---:|"
for size in $sizes; do
  awk -F'\t' -v s="$size" 'NR > 1 && $1 == s && $3 == "noblock" { print "| " s " | " $9 " | " $10 " | " $11 " | " $12 " |"; exit }' "$RUNS"
done
