#!/usr/bin/env bash
# Cost of a stall's stack capture (issue 12): bench/StackCaptureCost in one process with a serving "echo" loop (CONNS
# ping-pong connections, 64 bytes) and a "stall" loop whose handler sleeps two calls down until its first report is
# delivered. ROUNDS rounds alternate capture on / off (on off, off on, …), STALLS stalls per round; per round the echo
# round trips' p50/p99 and, with capture on, the ms from the report's verdict to its delivery with the stack.
# Two process sizes: small (10 parked threads, no extra types) and SIZE (THREADS parked threads, TYPES types loaded).
#
# usage: bench/stack-capture.sh   (env: ROUNDS=6 STALLS=5 CONNS=8 THREADS=200 TYPES=400)   Bounded: about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
ROUNDS=${ROUNDS:-6}; STALLS=${STALLS:-5}; CONNS=${CONNS:-8}; THREADS=${THREADS:-200}; TYPES=${TYPES:-400}
dotnet build -c Release bench/StackCaptureCost -v q -nologo >/dev/null
app=bench/StackCaptureCost/bin/Release/net10.0/StackCaptureCost.dll
echo "== load: $(uptime)"
for size in "10 0" "$THREADS $TYPES"; do
  set -- $size
  echo "== threads=$1 types=$2 conns=$CONNS rounds=$ROUNDS stalls=$STALLS"
  timeout 600 dotnet "$app" --threads "$1" --types "$2" --conns "$CONNS" --rounds "$ROUNDS" --stalls "$STALLS" | tee "$out/stack-capture-$1-$2.jsonl"
done
