#!/usr/bin/env bash
# C10K → C100K, nginx-style. Opens N idle connections to an echo server, holds them all, and every second for
# ROUNDS seconds sends one 16-byte message on a random 1% of them, timing each echo. Reports connections held,
# server memory per connection (RSS of the server processes after the ramp, minus RSS before it, divided by the
# connections held; kernel socket buffers are not in RSS — /proc/net/sockstat's TCP "mem" is shown beside it),
# p50/p99 round trip, the server's accept rate while ramping up, and whether every sampled echo was answered.
#
# Scenarios (SCENARIOS to pick; default all, in this order):
#   noblock-10k     EchoServer --loops 1 (one loop, one process), 10,000 connections, 1 client process
#   sockets-10k     bench/SocketsEcho (System.Net.Sockets async, one task per connection), 10,000 connections
#   noblock-19k     EchoServer --loops 1, 19,000 connections: about the most one process may hold (RLIMIT_NOFILE 20,000)
#   sockets-19k     SocketsEcho, 19,000 connections
#   noblock-100k    EchoServer --workers 6 (6 processes × 1 loop, SO_REUSEPORT), 100,000 connections, 6 client processes
# One process may hold at most 20,000 fds here (hard limit), so 100,000 takes several server processes AND several
# client processes; each client binds its connections to 4 source addresses of its own (127.0.0.2 …) so no
# (source address, destination) pair needs more than the ~28,000 ephemeral ports of ip_local_port_range.
#
# usage: bench/c100k.sh        (env: SCENARIOS="noblock-10k ..." ROUNDS=10 PERCENT=1)
# Every phase is bounded (ramp 120 s, rounds ROUNDS s + 6 s grace); all of it takes about 4-6 minutes. Every
# process started here is stopped on exit (trap), by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/bench/out/c100k"
mkdir -p "$out"
SCENARIOS=${SCENARIOS:-"noblock-10k sockets-10k noblock-19k sockets-19k noblock-100k"}
ROUNDS=${ROUNDS:-10}
PERCENT=${PERCENT:-1}
RAMP_TIMEOUT=${RAMP_TIMEOUT:-120}
results="$out/results.jsonl"
: > "$results"

echo "== machine"
sysctl net.ipv4.ip_local_port_range net.core.somaxconn net.ipv4.tcp_max_syn_backlog net.netfilter.nf_conntrack_max net.ipv4.tcp_mem 2>&1 | sed 's/^/   /' || true
echo "   RLIMIT_NOFILE soft/hard: $(ulimit -Sn)/$(ulimit -Hn); cores: $(nproc); $(free -g | awk '/Mem:/ {print "memory " $2 " GiB, available " $7 " GiB"}')"

echo "== building"
gcc -O2 -Wall -o "$out/c100k_client" bench/c/c100k_client.c
dotnet build -c Release samples/EchoServer -v q -nologo >/dev/null
dotnet build -c Release bench/SocketsEcho -v q -nologo >/dev/null
echoserver="samples/EchoServer/bin/Release/net10.0/EchoServer.dll"
socketsecho="bench/SocketsEcho/bin/Release/net10.0/SocketsEcho.dll"

server_pid=""
client_pids=()
sampler_pid=""
cleanup() {
  touch "$out/go" "$out/quit" 2>/dev/null || true
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  for p in "${client_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi
  for p in "${client_pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

rss_kb() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '/VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0) )); done; echo "$t"; }
fds_of() { local t=0 p; for p in "$@"; do t=$(( t + $(ls /proc/"$p"/fd 2>/dev/null | wc -l) )); done; echo "$t"; }
slab_kb() { awk '/^Slab:/ {print $2}' /proc/meminfo; }
tcp_mem_pages() { awk '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "mem") print $(i + 1)}' /proc/net/sockstat; }

run() { # run NAME KIND WORKERS CONNS CLIENTS PORT
  local name=$1 kind=$2 workers=$3 conns=$4 clients=$5 port=$6
  local log="$out/server-$name.log"
  echo "== $name: $conns connections, $clients client process(es), server $kind${workers:+ x$workers}"
  : > "$log"
  rm -f "$out/go" "$out/quit" "$out"/client-"$name"-*.out "$out"/rtt-"$name"-*.txt
  case "$kind" in
    noblock) dotnet "$echoserver" --port "$port" --loops 1 >"$log" 2>&1 & ;;
    noblock-workers) dotnet "$echoserver" --port "$port" --workers "$workers" >"$log" 2>&1 & ;;
    sockets) dotnet "$socketsecho" "$port" >"$log" 2>&1 & ;;
  esac
  server_pid=$!
  local want=${workers:-1}
  for _ in $(seq 300); do [ "$(grep -c "listening" "$log" 2>/dev/null || true)" -ge "$want" ] && break; sleep 0.1; done
  [ "$(grep -c "listening" "$log" || true)" -ge "$want" ] || { echo "server did not start"; cat "$log"; exit 1; }
  local pids
  if [ "$kind" = noblock-workers ]; then
    pids=$(grep -o 'worker [0-9]* started, pid [0-9]*' "$log" | awk '{print $NF}' | tr '\n' ' ')
  else
    pids=$server_pid
  fi
  # Warm up (JIT, pools) with a few echoes, so the baseline already holds what any running server holds.
  "$out/c100k_client" -p "$port" -c 64 -r 2 -P 50 -a 250 -n 1 -H 0 >/dev/null
  sleep 1
  local rss0 fds0 mem0
  rss0=$(rss_kb $pids); fds0=$(fds_of $pids); mem0=$(tcp_mem_pages)
  local slab0; slab0=$(slab_kb)
  # Accept-rate sampler: server fds every 0.1 s while ramping (bounded: at most RAMP_TIMEOUT*10 samples).
  ( for _ in $(seq $(( RAMP_TIMEOUT * 10 ))); do echo "$(date +%s.%N) $(fds_of $pids)"; sleep 0.1; done ) > "$out/accept-$name.txt" &
  sampler_pid=$!
  client_pids=()
  local per=$(( conns / clients )) k
  for k in $(seq 0 $(( clients - 1 ))); do
    local c=$per; [ "$k" -eq $(( clients - 1 )) ] && c=$(( conns - per * (clients - 1) ))
    "$out/c100k_client" -p "$port" -c "$c" -a $(( 2 + k * 4 )) -n 4 -r "$ROUNDS" -P "$PERCENT" -T "$RAMP_TIMEOUT" -H 300 \
      -g "$out/go" -q "$out/quit" -o "$out/rtt-$name-$k.txt" -S $(( 1000 + k )) > "$out/client-$name-$k.out" 2>&1 &
    client_pids+=($!)
  done
  # Wait for every client to finish ramping (bounded by its own ramp timeout plus start-up).
  for _ in $(seq $(( (RAMP_TIMEOUT + 30) * 10 ))); do
    [ "$(cat "$out"/client-"$name"-*.out 2>/dev/null | grep -c READY || true)" -ge "$clients" ] && break; sleep 0.1
  done
  sleep 2   # let the server accept what is still queued
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
  local rss1 fds1 mem1
  rss1=$(rss_kb $pids); fds1=$(fds_of $pids); mem1=$(tcp_mem_pages)
  local slab1; slab1=$(slab_kb)
  # EchoServer prints each loop's socket diagnostics on SIGUSR2, with how long asking took (19k sockets: two ioctls each).
  if [ "$kind" != sockets ]; then
    for p in $pids; do kill -USR2 "$p" 2>/dev/null || true; done
    for _ in $(seq 100); do [ "$(grep -c '^sockets:' "$log" || true)" -ge "$want" ] && break; sleep 0.1; done
    grep '^sockets:' "$log" | sed 's/^/   /' || true
  fi
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  local conntrack; conntrack=$(cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo "n/a")
  touch "$out/go"
  # Rounds, then the clients print their JSON line (bounded: ROUNDS + grace + margin).
  for _ in $(seq $(( (ROUNDS + 30) * 10 ))); do
    [ "$(cat "$out"/client-"$name"-*.out | grep -c '^{' || true)" -ge "$clients" ] && break; sleep 0.1
  done
  local rss2; rss2=$(rss_kb $pids)
  local fds2; fds2=$(fds_of $pids)
  touch "$out/quit"
  for p in "${client_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  client_pids=()
  kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  cat "$out"/client-"$name"-*.out | grep -h READY | sed 's/^/   client: /'
  python3 - "$name" "$kind" "$conns" "$clients" "$rss0" "$rss1" "$rss2" "$fds0" "$fds1" "$fds2" "$mem0" "$mem1" "$conntrack" "$out" "${workers:-1}" "$slab0" "$slab1" "$load" "$log" <<'PY' | tee -a "$results"
import glob, json, re, sys
name, kind, conns, clients, rss0, rss1, rss2, fds0, fds1, fds2, mem0, mem1, conntrack, out, procs, slab0, slab1, load, log = sys.argv[1:]
conns, clients, rss0, rss1, rss2, fds0, fds1, fds2, mem0, mem1 = map(int, (conns, clients, rss0, rss1, rss2, fds0, fds1, fds2, mem0, mem1))
cl = [json.loads(l) for f in sorted(glob.glob(f"{out}/client-{name}-*.out")) for l in open(f) if l.startswith("{")]
held = sum(c["held"] for c in cl); sent = sum(c["sent"] for c in cl); answered = sum(c["answered"] for c in cl)
rtts = sorted(int(x) for f in glob.glob(f"{out}/rtt-{name}-*.txt") for x in open(f) if x.strip())
pct = lambda p: rtts[min(len(rtts) - 1, int(len(rtts) * p))] if rtts else None
# Accept rate: server fds over time (0.1 s samples); the ramp is from the last sample still at the baseline to the
# first at 99 % of the peak, so a ramp shorter than a sample interval still gets a (lower-bound) rate.
samples = [tuple(map(float, l.split())) for l in open(f"{out}/accept-{name}.txt") if len(l.split()) == 2]
rate = peak_rate = None
if len(samples) >= 2:
    base = samples[0][1]; top = max(s[1] for s in samples)
    first_up = next((i for i, s in enumerate(samples) if s[1] > base), None)
    start = samples[max(0, first_up - 1)] if first_up is not None else None
    end = next((s for s in samples if s[1] >= base + 0.99 * (top - base)), None)
    if start and end and end[0] > start[0]:
        rate = round((end[1] - start[1]) / (end[0] - start[0]))
    steps = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(samples, samples[1:]) if b[0] > a[0]]
    peak_rate = round(max(steps)) if steps else None
accepted = fds1 - fds0
print(json.dumps({
    "scenario": name, "server": kind, "server_processes": int(procs), "client_processes": clients, "wanted": conns,
    "connected": sum(c["connected"] for c in cl), "held": held, "server_fds_added": accepted,
    "sent": sent, "answered": answered, "all_answered": sent > 0 and sent == answered,
    "p50_us": pct(0.50), "p99_us": pct(0.99), "max_us": rtts[-1] if rtts else None,
    "accept_rate_per_s": rate, "accept_peak_per_s": peak_rate,
    "rss_before_kb": rss0, "rss_held_kb": rss1, "rss_after_rounds_kb": rss2,
    "bytes_per_conn": round((rss1 - rss0) * 1024 / held) if held else None,
    "bytes_per_conn_after_rounds": round((rss2 - rss0) * 1024 / held) if held else None,
    "kernel_tcp_mem_bytes_per_conn": round((mem1 - mem0) * 4096 / held) if held else None,
    "kernel_slab_bytes_per_conn_both_ends": round((int(slab1) - int(slab0)) * 1024 / held) if held else None,
    "diagnostics_ms": [float(re.search(r"asked in ([0-9.]+) ms", l).group(1)) for l in open(log) if l.startswith("sockets:")],
    "conntrack_entries": conntrack, "load_average_1min": float(load),
    "client_ramp_s": max((c["ramp_s"] for c in cl), default=None),
    "client_errors": sorted({c["first_error"] for c in cl} - {"none"}),
}))
PY
}

for s in $SCENARIOS; do
  case "$s" in
    noblock-10k)  run "$s" noblock "" 10000 1 7310 ;;
    sockets-10k)  run "$s" sockets "" 10000 1 7311 ;;
    noblock-19k)  run "$s" noblock "" 19000 1 7312 ;;
    sockets-19k)  run "$s" sockets "" 19000 1 7313 ;;
    noblock-100k) run "$s" noblock-workers 6 100000 6 7314 ;;
    *) echo "unknown scenario $s"; exit 2 ;;
  esac
done

python3 - "$results" <<'PY' | tee "$out/summary.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| scenario | server processes | wanted | held | sampled echoes answered | p50 µs | p99 µs | accept rate /s (peak 0.1 s) | server RSS B/conn | kernel slab B/conn (both ends, machine-wide) |")
print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['scenario']} | {r['server_processes']} | {r['wanted']:,} | {r['held']:,} | {r['answered']:,}/{r['sent']:,}{'' if r['all_answered'] else ' (NOT all)'} | {r['p50_us']} | {r['p99_us']} | {r['accept_rate_per_s']} ({r['accept_peak_per_s']}) | {r['bytes_per_conn']} | {r['kernel_slab_bytes_per_conn_both_ends']} |")
PY
