#!/usr/bin/env bash
# Analyzer cost benchmark (issue 2, "Performance"): how much NoBlock's analyzers add to compiling a server-shaped
# code base of 25K, 50K and 100K lines.
#
#   bash bench/AnalyzerCost/run.sh                 # 3 rounds, sizes 25000 50000 100000, all four configurations
#   ROUNDS=5 SIZES="25000 100000" CONFIGS="sdk all" bash bench/AnalyzerCost/run.sh
#
# For each size it restores the generated project once, then alternates, round after round, rebuilds of that one
# project (--no-dependencies -t:Rebuild, so the compiler runs every time and nothing else builds):
#   base     -p:RunAnalyzers=false                               the compile alone (source generators still run)
#   noblock  -p:EnableNETAnalyzers=false -p:ReportAnalyzer=true   NoBlock's analyzers are the only analyzers
#   sdk      -p:NoBlockAnalyzers=false -p:ReportAnalyzer=true     the SDK's default analyzers, without NoBlock
#   all      -p:ReportAnalyzer=true                              NoBlock plus the SDK's default analyzers
# ("all" minus "sdk" is what NoBlock adds to a default .NET build, where the SDK's analyzers already run.)
# and records the wall time of `dotnet build`, the compiler process's own wall and CPU time (user+sys: csc runs
# through a tiny wrapper that times it), the Csc task's time, the analyzer times that ReportAnalyzer prints (-v:d)
# and the 1-minute load average when the compile started (the machine is shared: CPU time is the figure that
# other people's builds disturb least). Raw rows: bench/out/analyzer-cost/runs.tsv; the summary tables (medians):
# bench/out/analyzer-cost/summary.md. Needs: dotnet, GNU time (/usr/bin/time), awk.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROUNDS="${ROUNDS:-3}"
SIZES="${SIZES:-25000 50000 100000}"
CONFIGS="${CONFIGS:-base noblock sdk all}"
OUT="$ROOT/bench/out/analyzer-cost"
mkdir -p "$OUT/logs"
RUNS="$OUT/runs.tsv"
SUMMARY="$OUT/summary.md"

cd "$ROOT"
echo "== machine: $(nproc) cores, dotnet $(dotnet --version), commit $(git rev-parse --short HEAD)"
echo "== building the analyzers and the runtime (Release)"
dotnet build analyzers/NoBlock.Analyzers/NoBlock.Analyzers.csproj -c Release -v:q -nologo
dotnet build runtime/NoBlock/NoBlock.csproj -c Release -v:q -nologo
dotnet build bench/AnalyzerCost/Generator/Generator.csproj -c Release -v:q -nologo

printf 'size\tround\tconfig\twall_s\tcpu_s\tcsc_ms\tnoblock_s\tall_analyzers_s\tnb0001\tnb0002\tnb0003\tnb0004\tcsc_wall_s\tcsc_cpu_s\tload1\tblocking_analyzer_s\tdrain_analyzer_s\n' > "$RUNS"

# The compiler, run through a wrapper that records its own wall and CPU time (UseSharedCompilation=false on this
# machine: every compile is a fresh csc process, so its rusage is the whole compile, analyzers included).
export REAL_CSC="$(dirname "$(readlink -f "$(command -v dotnet)")")/sdk/$(dotnet --version)/Roslyn/bincore/csc"
export CSC_TIME_FILE="$OUT/csc-time.txt"
[ -x "$REAL_CSC" ] || { echo "no compiler at $REAL_CSC" >&2; exit 1; }
cat > "$OUT/csc-timed" <<'WRAPPER'
#!/usr/bin/env bash
exec /usr/bin/time -f '%e %U %S' -o "$CSC_TIME_FILE" "$REAL_CSC" "$@"
WRAPPER
chmod +x "$OUT/csc-timed"
TIMED_CSC="-p:UseSharedCompilation=false -p:CscToolPath=$OUT -p:CscToolExe=csc-timed"

config_args() {
  case "$1" in
    base) echo "-p:RunAnalyzers=false" ;;
    noblock) echo "-p:EnableNETAnalyzers=false -p:ReportAnalyzer=true" ;;
    sdk) echo "-p:NoBlockAnalyzers=false -p:ReportAnalyzer=true" ;;
    all) echo "-p:ReportAnalyzer=true" ;;
  esac
}

# rotate N WORDS...: the words starting at the N-th (modulo their count), then the ones before it.
rotate() { local n=$1; shift; local words=("$@"); local k=$((n % ${#words[@]})); echo "${words[*]:k} ${words[*]:0:k}"; }

# Distinct findings of one rule in a build log (MSBuild prints each warning twice: as it happens and in the summary).
count_rule() { { grep -oE "[^ >]+\([0-9]+,[0-9]+\): warning $2:" "$1" || true; } | sort -u | wc -l | tr -d ' '; }

for size in $SIZES; do
  gen="$ROOT/bench/out/gen-$size"
  echo "== generating $size lines"
  dotnet bench/AnalyzerCost/Generator/bin/Release/net10.0/Generator.dll --lines "$size" --repo "$ROOT" --out "$gen" | tee "$OUT/layout-$size.txt"
  dotnet restore "$gen/GeneratedServer.csproj" -v:q -nologo
  # One unrecorded compile first, so that the first recorded one does not pay for a cold disk cache.
  dotnet build "$gen/GeneratedServer.csproj" -c Release --no-restore --no-dependencies -t:Rebuild -nologo -v:q \
    -p:ReportAnalyzer=true > "$OUT/logs/$size-warmup.log" 2>&1 || { tail -20 "$OUT/logs/$size-warmup.log" >&2; exit 1; }
  for round in $(seq 1 "$ROUNDS"); do
    # Rotate the order each round so no configuration always runs first (warm disk cache) or last.
    # shellcheck disable=SC2086
    order=$(rotate $((round - 1)) $CONFIGS)
    for config in $order; do
      log="$OUT/logs/$size-$round-$config.log"
      load1=$(cut -d' ' -f1 /proc/loadavg)
      rm -f "$CSC_TIME_FILE"
      # shellcheck disable=SC2046,SC2086
      /usr/bin/time -f '%e %U %S' -o "$OUT/time.txt" \
        dotnet build "$gen/GeneratedServer.csproj" -c Release --no-restore --no-dependencies -t:Rebuild -nologo \
          -v:d -clp:PerformanceSummary $TIMED_CSC $(config_args "$config") > "$log" 2>&1 \
        || { echo "build failed: $log" >&2; tail -20 "$log" >&2; exit 1; }
      read -r wall user sys < "$OUT/time.txt"
      cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
      read -r cwall cuser csys < "$CSC_TIME_FILE"
      ccpu=$(awk -v u="$cuser" -v s="$csys" 'BEGIN { printf "%.2f", u + s }')
      csc=$(awk '$2 == "ms" && $3 == "Csc" { print $1; exit }' "$log")
      # ReportAnalyzer: "Total analyzer execution time: 4.613 seconds." then one line per assembly and analyzer.
      total=$(awk '/Total analyzer execution time:/ { print $(NF-1); exit }' "$log")
      noblock=$(awk '/NoBlock\.Analyzers, Version=/ { print $1; exit }' "$log")
      # NoBlock's two analyzers: NB0001/NB0002/NB0005 and NB0003/NB0004 (the latter from main's drain merge on).
      blocking=$(awk '/NoBlock\.Analyzers\.Rules\.BlockingCallInHandlerAnalyzer / { print $1; exit }' "$log")
      drain=$(awk '/NoBlock\.Analyzers\.Rules\.EdgeTriggeredDrainAnalyzer / { print $1; exit }' "$log")
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$round" "$config" "$wall" "$cpu" "${csc:-NA}" \
        "${noblock:-NA}" "${total:-NA}" "$(count_rule "$log" NB0001)" "$(count_rule "$log" NB0002)" \
        "$(count_rule "$log" NB0003)" "$(count_rule "$log" NB0004)" "$cwall" "$ccpu" "$load1" "${blocking:-NA}" "${drain:-NA}" | tee -a "$RUNS"
    done
  done
done

bash "$ROOT/bench/AnalyzerCost/summarize.sh" "$RUNS" > "$SUMMARY"
cat "$SUMMARY"
