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
# usage: bench/stack-capture.sh   (env: ROUNDS=6 STALLS=5 CONNS=8 THREADS=200 TYPES=400 METHODS="20000 50000")
# Bounded: a few minutes (each capture at 50,000 jitted methods takes about a second or two).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
ROUNDS=${ROUNDS:-6}; STALLS=${STALLS:-5}; CONNS=${CONNS:-8}; THREADS=${THREADS:-200}; TYPES=${TYPES:-400}
METHODS=${METHODS:-20000 50000}
dotnet build -c Release bench/StackCaptureCost -v q -nologo >/dev/null
app=bench/StackCaptureCost/bin/Release/net10.0/StackCaptureCost.dll
echo "== load: $(uptime)"
sizes=("10 0 0" "$THREADS $TYPES 0")
for m in $METHODS; do sizes+=("$THREADS $TYPES $m"); done
for size in "${sizes[@]}"; do
  set -- $size
  echo "== threads=$1 types=$2 methods=$3 conns=$CONNS rounds=$ROUNDS stalls=$STALLS"
  timeout 600 dotnet "$app" --threads "$1" --types "$2" --methods "$3" --conns "$CONNS" --rounds "$ROUNDS" --stalls "$STALLS" | tee "$out/stack-capture-$1-$2-$3.jsonl"
  echo "== the same, never capturing (the memory baseline)"
  timeout 600 dotnet "$app" --threads "$1" --types "$2" --methods "$3" --conns "$CONNS" --rounds 2 --stalls "$STALLS" --never-capture 1 | grep -E 'setup|summary'
done
