#!/usr/bin/env bash
# Cost of the stall watchdog and the metrics, and how fast the watchdog reports a stall.
#  1. In-process A/B (the figure to trust on a noisy machine): bench/WatchdogCost's echo server and a client thread
#     in one process pinned to one CPU, watchdog + metrics flipped on/off every SLICE_MS (on/off, off/on, …) for
#     SLICES slices, with 1 and 8 connections. Round trips per second and the loop + watchdog threads' CPU time per
#     round trip (schedstat) per slice; medians and the median of the paired on/off ratios.
#  2. Ping-pong over loopback (bench/c/loadgen.c, 64-byte messages) against bench/WatchdogCost's one-loop echo server,
#     watchdog + metrics listener ON vs OFF, alternating (the order flips every round), ROUNDS rounds per connection
#     count; medians and the on/off ratio.
#  3. Detection latency: 20 stalls (sleep and spin alternately, 300 ms each, threshold 100 ms), handler start → report.
#
# usage: bench/watchdog.sh      (env: SLICES=20 SLICE_MS=1000 ROUNDS=5 DURATION=4 WARMUP=1 CONNS="1 64" STALLS=20)
# Bounded: about 3-4 minutes with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/bench/out"
mkdir -p "$out"
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-4}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-"1 64"}
STALLS=${STALLS:-20}
SLICES=${SLICES:-20}
SLICE_MS=${SLICE_MS:-1000}
pingpong="$out/watchdog-pingpong.jsonl"
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
results="$out/watchdog-cost.jsonl"
latency="$out/watchdog-latency.jsonl"
: > "$results"

echo "== building"
gcc -O2 -Wall -o "$out/loadgen" bench/c/loadgen.c
dotnet build -c Release bench/WatchdogCost -v q -nologo >/dev/null
app="bench/WatchdogCost/bin/Release/net10.0/WatchdogCost.dll"

server_pid=""
cleanup() { if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

echo "== in-process A/B: $SLICES slices of ${SLICE_MS} ms, 1 and 8 connections, pinned to CPU $SERVER_CPU"
: > "$pingpong"
for conns in 1 8; do
  taskset -c "$SERVER_CPU" dotnet "$app" pingpong --slices "$SLICES" --slice-ms "$SLICE_MS" --conns "$conns" | tee -a "$pingpong"
done

echo "== ping-pong: rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s conns=[$CONNS]"
for round in $(seq "$ROUNDS"); do
  for conns in $CONNS; do
    if [ $((round % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
    for mode in $order; do
      port=$((7300 + round * 20 + (conns % 10) * 2)); if [ "$mode" = on ]; then port=$((port + 1)); fi
      log="$out/watchdog-server-$mode-$conns.log"
      rm -f "$log" # a stale "listening" line must not count as this server's
      taskset -c "$SERVER_CPU" dotnet "$app" serve --port "$port" --mode "$mode" >"$log" 2>&1 &
      server_pid=$!
      for _ in $(seq 200); do grep -q listening "$log" 2>/dev/null && break; sleep 0.05; done
      line=$(taskset -c "$LOAD_CPU" "$out/loadgen" -p "$port" -c "$conns" -d "$DURATION" -w "$WARMUP" -P "$server_pid")
      kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
      echo "{\"round\":$round,\"mode\":\"$mode\",${line#\{}" | tee -a "$results"
    done
  done
done

echo "== detection latency: $STALLS stalls"
dotnet "$app" latency --stalls "$STALLS" | tee "$latency"

python3 - "$results" "$latency" "$pingpong" <<'PY'
import json, statistics, sys
from collections import defaultdict
pp = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
print("\n### In-process A/B, watchdog + metrics on vs off (one process pinned to one CPU, mode flipped every slice)\n")
print("| conns | slices | rt/s on (median) | rt/s off (median) | rt/s on/off (median of pairs) | loop+watchdog CPU µs/rt on | off | CPU on/off (median of pairs) |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in (l for l in pp if l.get("summary")):
    print(f"| {s['conns']} | {s['slices']} × {s['slice_ms']} ms | {s['median_on']:,} | {s['median_off']:,} | {s['median_pair_ratio']:.3f} | {s['cpu_us_per_rt_on']:.3f} | {s['cpu_us_per_rt_off']:.3f} | {s['cpu_median_pair_ratio']:.3f} |")
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = defaultdict(list)
for r in runs:
    by[(r["conns"], r["mode"])].append(r)
print(f"\n### Watchdog + metrics on vs off (medians of {max(r['round'] for r in runs)} alternating rounds)\n")
print("| conns | mode | req/s (median) | req/s per round | p50 µs | p99 µs | server CPU µs/req |")
print("|---:|---|---:|---|---:|---:|---:|")
for conns in sorted({c for c, _ in by}):
    for mode in ("off", "on"):
        rs = by[(conns, mode)]
        med = lambda k: statistics.median(r[k] for r in rs)
        per = " / ".join(f"{r['rps']:,.0f}" for r in sorted(rs, key=lambda r: r["round"]))
        print(f"| {conns} | {mode} | {med('rps'):,.0f} | {per} | {med('p50_us'):.0f} | {med('p99_us'):.0f} | {med('cpu_us_per_req'):.2f} |")
print()
for conns in sorted({c for c, _ in by}):
    on = statistics.median(r["rps"] for r in by[(conns, "on")])
    off = statistics.median(r["rps"] for r in by[(conns, "off")])
    print(f"- {conns} connection(s): on/off = {on / off:.3f} ({(on / off - 1) * 100:+.1f}% requests per second)")
lat = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
s = [l for l in lat if l.get("summary")][0]
kinds = defaultdict(int)
for l in lat:
    if not l.get("summary"):
        kinds[l["kind"]] += 1
print(f"\n### Detection latency (threshold {s['threshold_ms']} ms, {s['reported']}/{s['stalls']} stalls reported)\n")
print(f"- handler start → report delivered: median {s['median_ms']} ms, max {s['max_ms']} ms ({s['max_over_threshold']}× the threshold)")
print(f"- classified: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
PY
