#!/usr/bin/env bash
# Echo benchmark: NoBlock EchoServer (level- and edge-triggered) vs a System.Net.Sockets async echo server vs a C
# epoll echo server, driven by a C ping-pong load generator over loopback. Server pinned to CPU 0, load to CPU 1.
# Contenders take turns within each round (ROUNDS rounds); summarize.py reports medians.
# Then: RSS per idle connection (IDLE connections held by a separate client process), and steady-state allocations.
#
# usage: bench/run.sh            (env: ROUNDS=3 DURATION=3 WARMUP=2 CONNS="1 64 1000" IDLE=10000)
# Everything is bounded: each load run lasts WARMUP+DURATION seconds; the whole script takes about 6-8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/bench/out"
mkdir -p "$out"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-2}   # .NET tiers its hot methods up in the background during the first second or two
CONNS=${CONNS:-"1 64 1000"}
IDLE=${IDLE:-10000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
results="$out/results.jsonl"
: > "$results"

echo "== building"
gcc -O2 -Wall -o "$out/echo_epoll" bench/c/echo_epoll.c
gcc -O2 -Wall -o "$out/loadgen" bench/c/loadgen.c
dotnet build -c Release samples/EchoServer -v q -nologo >/dev/null
dotnet build -c Release bench/SocketsEcho -v q -nologo >/dev/null
echoserver="samples/EchoServer/bin/Release/net10.0/EchoServer.dll"
socketsecho="bench/SocketsEcho/bin/Release/net10.0/SocketsEcho.dll"

server_pid=""
cleanup() { if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

start_server() { # start_server NAME PORT LOG
  local name=$1 port=$2 log=$3
  : > "$log"   # truncate now: the background command's own redirection happens later, in the child
  case "$name" in
    c)          taskset -c "$SERVER_CPU" "$out/echo_epoll" "$port" >"$log" 2>&1 & ;;
    noblock-lt) taskset -c "$SERVER_CPU" dotnet "$echoserver" --port "$port" --loops 1 --no-watchdog >"$log" 2>&1 & ;;
    noblock-et) taskset -c "$SERVER_CPU" dotnet "$echoserver" --port "$port" --loops 1 --no-watchdog --edge-triggered >"$log" 2>&1 & ;;
    sockets)    taskset -c "$SERVER_CPU" dotnet "$socketsecho" "$port" >"$log" 2>&1 & ;;
  esac
  server_pid=$!
  for _ in $(seq 200); do
    if grep -q "listening" "$log" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "server $name did not start"; cat "$log"; exit 1
}

# Open sockets of a process (files are left out: .NET maps assemblies as it loads them, e.g. on the first exception).
sockets_of() { find /proc/"$1"/fd -lname 'socket:*' 2>/dev/null | wc -l; }

stop_server() {
  kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}

contenders="c noblock-lt noblock-et sockets"
rotate() { local k=$1; shift; local a=("$@") n=$#; for i in $(seq 0 $((n - 1))); do printf '%s ' "${a[$(( (i + k) % n ))]}"; done; }
port_of() { case "$1" in c) echo 7101;; noblock-lt) echo 7102;; noblock-et) echo 7103;; sockets) echo 7104;; esac; }

echo "== ping-pong: rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s conns=[$CONNS]"
for round in $(seq "$ROUNDS"); do
  for conns in $CONNS; do
    # Rotate the starting contender each round so no one always runs first (drift over minutes is 20-30%).
    order=$(rotate $((round - 1)) $contenders)
    for name in $order; do
      port=$(port_of "$name")
      start_server "$name" "$port" "$out/server-$name.log"
      line=$(taskset -c "$LOAD_CPU" "$out/loadgen" -p "$port" -c "$conns" -d "$DURATION" -w "$WARMUP" -P "$server_pid")
      stop_server
      echo "{\"round\":$round,\"server\":\"$name\",${line#\{}" | tee -a "$results"
    done
  done
done

echo "== idle connections: $IDLE held by a separate client process"
idle="$out/idle.jsonl"
: > "$idle"
for name in c noblock-lt sockets; do
  port=$(( $(port_of "$name") + 100 ))
  start_server "$name" "$port" "$out/server-$name-idle.log"
  # Warm the server's code paths first, so the baseline already includes JIT and pools.
  taskset -c "$LOAD_CPU" "$out/loadgen" -p "$port" -c 64 -d 1 -w 0.5 >/dev/null
  sleep 0.5
  rss0=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
  fds0=$(sockets_of "$server_pid")
  fifo="$out/idle.fifo"; rm -f "$fifo"; mkfifo "$fifo"
  taskset -c "$LOAD_CPU" "$out/loadgen" -p "$port" -c "$IDLE" -i 120 <"$fifo" >"$out/idle-client.out" &
  client=$!
  exec 9>"$fifo"
  for _ in $(seq 1200); do grep -q READY "$out/idle-client.out" 2>/dev/null && break; sleep 0.1; done
  sleep 1
  rss1=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
  fds_held=$(sockets_of "$server_pid")
  exec 9>&-   # closing the fifo releases the client: all connections dropped at once
  wait "$client" || true
  rm -f "$fifo"
  # The server must close every one of them (fd count back to its baseline) and still serve.
  for _ in $(seq 300); do [ "$(sockets_of "$server_pid")" -le "$fds0" ] && break; sleep 0.1; done
  fds_after=$(sockets_of "$server_pid")
  served_after=$(taskset -c "$LOAD_CPU" "$out/loadgen" -p "$port" -c 1 -d 0.5 -w 0 | sed 's/.*"requests":\([0-9]*\).*/\1/')
  stop_server
  echo "{\"server\":\"$name\",\"idle\":$IDLE,\"rss_before_kb\":$rss0,\"rss_after_kb\":$rss1,\"bytes_per_conn\":$(( (rss1 - rss0) * 1024 / IDLE )),\"fds_before\":$fds0,\"fds_held\":$fds_held,\"fds_after_drop\":$fds_after,\"requests_after_drop\":$served_after}" | tee -a "$idle"
done

echo "== steady-state allocations (NoBlock, 64 connections): two SIGUSR1 snapshots inside one run, same connections"
alloc_log="$out/server-alloc.log"
start_server noblock-lt 7201 "$alloc_log"
taskset -c "$LOAD_CPU" "$out/loadgen" -p 7201 -c 64 -d 1 -w 0.5 >/dev/null    # warm-up run (JIT, tiering, pools)
taskset -c "$LOAD_CPU" "$out/loadgen" -p 7201 -c 64 -d 6 -w 0 >/dev/null &
load=$!
sleep 2; kill -USR1 "$server_pid"
sleep 3; kill -USR1 "$server_pid"
wait "$load"
sleep 0.3
stop_server
grep '^stats:' "$alloc_log" | tee "$out/alloc.txt"

python3 bench/summarize.py "$results" "$idle" "$out/alloc.txt" | tee "$out/summary.md"
