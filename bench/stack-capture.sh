#!/usr/bin/env bash
# Cost of a stall's stack capture (issue 12): bench/StackCaptureCost in one process with a serving "echo" loop (CONNS
# ping-pong connections, 64 bytes) and a "stall" loop whose handler sleeps two calls down until its first report is
# delivered. ROUNDS rounds alternate capture on / off (on off, off on, …), STALLS stalls per round; per round the echo
# round trips' p50/p99 and, with capture on, the ms from the report's verdict to its delivery with the stack.
# Process sizes: small (10 parked threads, no extra types), SIZE (THREADS parked threads, TYPES types loaded), and for
# each count in METHODS the same plus that many emitted methods, each jitted (the rundown enumerates jitted code).
# Peak RSS (VmHWM) is printed at setup and at the end, RSS and the GC's committed bytes after each round; each size is
# run again never capturing, so the difference in peak RSS is what the captures cost in memory.
#
# OLD=<dir>: a checkout of another commit (e.g. `git archive <commit> | tar -x -C <dir>`) whose bench/StackCaptureCost
# is built too and run against this one: per size REPEAT pairs of processes, the order flipping (new old, old new, …),
# then the never-capturing baseline; a table of the medians at the end (bench/stack-capture-summary.py).
# SMALL=0 skips the two sizes without emitted methods. CONNS=0 runs no echo connections: their round-trip lists (arrays
# of doubles, longer the longer a round lasts, so longer with slower captures) then do not blur the memory figures, and
# the managed bytes allocated during a stall are the capture's.
#
# usage: bench/stack-capture.sh   (env: ROUNDS=6 STALLS=5 CONNS=8 THREADS=200 TYPES=400 METHODS="20000 50000" OLD= REPEAT=2 SMALL=1)
# Bounded: a few minutes (each capture at 50,000 jitted methods takes about a second or two); with OLD, about twice that.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
ROUNDS=${ROUNDS:-6}; STALLS=${STALLS:-5}; CONNS=${CONNS:-8}; THREADS=${THREADS:-200}; TYPES=${TYPES:-400}
METHODS=${METHODS:-20000 50000}; OLD=${OLD:-}; REPEAT=${REPEAT:-2}; SMALL=${SMALL:-1}
dotnet build -c Release bench/StackCaptureCost -v q -nologo >/dev/null
app=bench/StackCaptureCost/bin/Release/net10.0/StackCaptureCost.dll
contenders=("new=$app")
if [ -n "$OLD" ]; then
  (cd "$OLD" && dotnet build -c Release bench/StackCaptureCost -v q -nologo >/dev/null)
  contenders+=("old=$OLD/bench/StackCaptureCost/bin/Release/net10.0/StackCaptureCost.dll")
else
  REPEAT=1
fi
echo "== load: $(uptime)"
sizes=()
if [ "$SMALL" != 0 ]; then sizes+=("10 0 0" "$THREADS $TYPES 0"); fi
for m in $METHODS; do sizes+=("$THREADS $TYPES $m"); done
rm -f "$out"/stack-capture-*.jsonl
for size in "${sizes[@]}"; do
  set -- $size
  for ((rep = 0; rep < REPEAT; rep++)); do
    order=("${contenders[@]}")
    if ((rep % 2 == 1)) && ((${#order[@]} == 2)); then order=("${order[1]}" "${order[0]}"); fi
    for c in "${order[@]}"; do
      name=${c%%=*}; dll=${c#*=}
      echo "== $name threads=$1 types=$2 methods=$3 conns=$CONNS rounds=$ROUNDS stalls=$STALLS ($(uptime | sed 's/.*load/load/'))"
      timeout 600 dotnet "$dll" --threads "$1" --types "$2" --methods "$3" --conns "$CONNS" --rounds "$ROUNDS" --stalls "$STALLS" \
        | tee "$out/stack-capture-$name-$1-$2-$3-$rep.jsonl"
    done
  done
  echo "== the same, never capturing (the memory baseline: as many rounds, all off)"
  timeout 600 dotnet "$app" --threads "$1" --types "$2" --methods "$3" --conns "$CONNS" --rounds "$ROUNDS" --stalls "$STALLS" --never-capture 1 \
    | tee "$out/stack-capture-never-$1-$2-$3-0.jsonl" | grep -E 'setup|summary'
done
python3 bench/stack-capture-summary.py "$out"/stack-capture-*.jsonl
