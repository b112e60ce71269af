#!/usr/bin/env bash
# NoBlock's cost on three code bases, measured in memory by bench/AnalyzerCost/Harness (bench/ANALYZER_COST.md):
# the generated 100K-line event-loop server, and the public code bases of sources.tsv at their pinned commits.
#
#   bash bench/AnalyzerCost/harness.sh                      # ROUNDS=5, CODEBASES="gen-100000 Newtonsoft.Json DotNetty"
#   ROUNDS=3 CONFIGS=none,sdk,all CODEBASES=DotNetty bash bench/AnalyzerCost/harness.sh
#   BASELINE=/elsewhere/NoBlock.Analyzers.dll CONFIGS=none,sdk,all-baseline,all,noblock-baseline,noblock bash ...
#     (before/after in the same rounds: BASELINE is another build of the analyzers, e.g. main's, loaded apart)
#   NOBLOCK=/elsewhere/NoBlock.Analyzers.dll ...   (the build measured as noblock/all; default: this tree's Release build)
#
# Where the public sources come from: HARNESS_MIRRORS=DIR, a folder of git mirrors (DIR/<owner>+<name>/repo, as
# the maintainers' fetch tool leaves them), else `git clone --bare --filter=blob:none https://github.com/<owner>/<name>`
# into bench/out/clones. The pinned folder is exported with `git archive` into bench/out/sources/<name> (git-ignored).
# Rows: bench/out/analyzer-cost/harness.tsv (name, lines, round, config, wall s, CPU s, load); summary on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROUNDS="${ROUNDS:-5}"
CONFIGS="${CONFIGS:-none,sdk,all,noblock}"
CODEBASES="${CODEBASES:-gen-100000 Newtonsoft.Json DotNetty}"
OUT="$ROOT/bench/out/analyzer-cost"
RUNS="${RUNS:-$OUT/harness.tsv}"
mkdir -p "$OUT" "$ROOT/bench/out/sources"
cd "$ROOT"

SDK_ANALYZERS="$(dirname "$(readlink -f "$(command -v dotnet)")")/sdk/$(dotnet --version)/Sdks/Microsoft.NET.Sdk/analyzers"
echo "== machine: $(nproc) cores, dotnet $(dotnet --version), commit $(git rev-parse --short HEAD), $(uptime)"
nice dotnet build analyzers/NoBlock.Analyzers/NoBlock.Analyzers.csproj -c Release -v:q -nologo >/dev/null
nice dotnet build runtime/NoBlock/NoBlock.csproj -c Release -v:q -nologo >/dev/null
nice dotnet build bench/AnalyzerCost/Harness/Harness.csproj -c Release -v:q -nologo >/dev/null
nice dotnet build bench/AnalyzerCost/Generator/Generator.csproj -c Release -v:q -nologo >/dev/null

export_sources() { # export_sources REPO COMMIT FOLDER DEST
  local repo=$1 commit=$2 folder=$3 dest=$4 gitdir=""
  if [ -n "${HARNESS_MIRRORS:-}" ] && [ -d "$HARNESS_MIRRORS/${repo/\//+}/repo" ]; then
    gitdir="$HARNESS_MIRRORS/${repo/\//+}/repo"
  else
    gitdir="$ROOT/bench/out/clones/${repo/\//+}.git"
    [ -d "$gitdir" ] || git clone --quiet --bare --filter=blob:none "https://github.com/$repo" "$gitdir"
  fi
  git --git-dir="$gitdir" cat-file -e "$commit^{commit}" 2>/dev/null || git --git-dir="$gitdir" fetch --quiet origin "$commit"
  rm -rf "$dest" && mkdir -p "$dest"
  git --git-dir="$gitdir" archive "$commit" "$folder" | tar -x -C "$dest"
}

common=(--noblock "${NOBLOCK:-analyzers/NoBlock.Analyzers/bin/Release/netstandard2.0/NoBlock.Analyzers.dll}"
  --sdk-analyzers "$SDK_ANALYZERS/Microsoft.CodeAnalysis.NetAnalyzers.dll"
  --sdk-analyzers "$SDK_ANALYZERS/Microsoft.CodeAnalysis.CSharp.NetAnalyzers.dll"
  --globalconfig "$SDK_ANALYZERS/build/config/analysislevel_10_default.globalconfig"
  ${BASELINE:+--baseline "$BASELINE"} --configs "$CONFIGS" --rounds "$ROUNDS" --out "$RUNS" --report "$OUT/harness-report.tsv")
harness=(nice dotnet bench/AnalyzerCost/Harness/bin/Release/net10.0/Harness.dll)

for name in $CODEBASES; do
  case $name in
    gen-*)
      lines=${name#gen-}
      dotnet bench/AnalyzerCost/Generator/bin/Release/net10.0/Generator.dll --lines "$lines" --repo "$ROOT" --out "bench/out/$name" >&2
      dotnet restore "bench/out/$name/GeneratedServer.csproj" -v:q -nologo >/dev/null
      libc=$(find ~/.nuget/packages/tmds.libc -path '*linux-x64/lib/netstandard2.0/Tmds.LibC.dll' | sort | tail -1)
      "${harness[@]}" --name "$name" --sources "bench/out/$name" --unsafe \
        --reference runtime/NoBlock/bin/Release/net10.0/NoBlock.dll --reference "$libc" "${common[@]}" ;;
    *)
      IFS=$'\t' read -r _ repo commit folder handlers opts < <(awk -F'\t' -v n="$name" '$1 == n' bench/AnalyzerCost/sources.tsv)
      dest="bench/out/sources/$name"
      export_sources "$repo" "$commit" "$folder" "$dest"
      extra=()
      [ "$handlers" != "-" ] && extra+=(--additional "$handlers")
      # shellcheck disable=SC2086
      "${harness[@]}" --name "$name" --sources "$dest/$folder" $opts "${extra[@]}" "${common[@]}" ;;
  esac
done
bash bench/AnalyzerCost/summarize-harness.sh "$RUNS"
