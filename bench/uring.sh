#!/usr/bin/env bash
# io_uring vs epoll, in one run: C epoll, C io_uring (liburing), NoBlock on epoll, NoBlock on io_uring and a
# System.Net.Sockets server, each driven by the same C load generator over loopback (server pinned to one CPU, load
# to the other). Cases: 64-byte ping-pong at 1, 64 and 1,000 connections, and streaming (16 KB messages, 8 in flight
# per connection) at 1 and 64 connections. Contenders take turns within each round and the starting one rotates;
# summarize_uring.py reports medians and the ratios the issue asks about (CPU per request against C epoll and C
# io_uring). The load average is recorded with every run: the machine is shared.
#
# usage: bench/uring.sh     (env: ROUNDS=5 DURATION=4 WARMUP=2 CONTENDERS="c-epoll c-uring noblock-epoll noblock-uring sockets")
# Bounded: every load run lasts WARMUP+DURATION seconds; with the defaults the script takes about 20 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/bench/out/uring"
mkdir -p "$out"
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-4}
WARMUP=${WARMUP:-2}
CONTENDERS=${CONTENDERS:-"c-epoll c-uring noblock-epoll noblock-uring sockets"}
CASES=${CASES:-"pp:1 pp:64 pp:1000 st:1 st:64"}   # pp: 64-byte ping-pong; st: 16 KB x 8 in flight
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
results="$out/results.jsonl"
: > "$results"

echo "== kernel $(uname -r); io_uring_disabled=$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo n/a); load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f /usr/include/liburing.h ]; then
  echo "== installing liburing-dev (Debian's package) for the C io_uring server"
  if ! { apt-get install -y liburing-dev >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y liburing-dev >/dev/null 2>&1; }; }; then
    echo "liburing-dev could not be installed (not root, or no package source): the C io_uring server is left out"
    CONTENDERS=$(echo "$CONTENDERS" | sed 's/c-uring//')
  fi
fi

echo "== building"
gcc -O2 -Wall -o "$out/echo_epoll" bench/c/echo_epoll.c
gcc -O2 -Wall -o "$out/loadgen" bench/c/loadgen.c
if [ -f /usr/include/liburing.h ]; then gcc -O2 -Wall -o "$out/echo_uring" bench/c/echo_uring.c -luring; fi
dotnet build -c Release samples/EchoServer -v q -nologo >/dev/null
dotnet build -c Release bench/SocketsEcho -v q -nologo >/dev/null
echoserver="samples/EchoServer/bin/Release/net10.0/EchoServer.dll"
socketsecho="bench/SocketsEcho/bin/Release/net10.0/SocketsEcho.dll"

server_pid=""
cleanup() { if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

port_of() { case "$1" in c-epoll) echo 7401;; c-uring) echo 7402;; noblock-epoll) echo 7403;; noblock-uring) echo 7404;; sockets) echo 7405;; c-uring-coop) echo 7406;; esac; }

start_server() { # start_server NAME LOG
  local name=$1 log=$2 port
  port=$(port_of "$name")
  : > "$log"
  case "$name" in
    c-epoll)       taskset -c "$SERVER_CPU" "$out/echo_epoll" "$port" >"$log" 2>&1 & ;;
    c-uring)       taskset -c "$SERVER_CPU" "$out/echo_uring" "$port" >"$log" 2>&1 & ;;
    c-uring-coop)  taskset -c "$SERVER_CPU" "$out/echo_uring" "$port" -c >"$log" 2>&1 & ;;  # optional: NoBlock's ring flags
    noblock-epoll) taskset -c "$SERVER_CPU" dotnet "$echoserver" --port "$port" --loops 1 --no-watchdog --backend epoll >"$log" 2>&1 & ;;
    noblock-uring) taskset -c "$SERVER_CPU" dotnet "$echoserver" --port "$port" --loops 1 --no-watchdog --backend io_uring >"$log" 2>&1 & ;;
    sockets)       taskset -c "$SERVER_CPU" dotnet "$socketsecho" "$port" >"$log" 2>&1 & ;;
  esac
  server_pid=$!
  for _ in $(seq 200); do
    if grep -q "listening" "$log" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "server $name did not start"; cat "$log"; exit 1
}
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }
rotate() { local k=$1; shift; local a=("$@") n=$#; for i in $(seq 0 $((n - 1))); do printf '%s ' "${a[$(( (i + k) % n ))]}"; done; }

echo "== rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s cases=[$CASES] contenders=[$CONTENDERS]"
for round in $(seq "$ROUNDS"); do
  for case in $CASES; do
    kind=${case%%:*}; conns=${case##*:}
    if [ "$kind" = pp ]; then shape="-s 64 -W 1"; else shape="-s 16384 -W 8"; fi
    for name in $(rotate $((round - 1)) $CONTENDERS); do
      start_server "$name" "$out/server-$name.log"
      load0=$(cut -d' ' -f1 /proc/loadavg)
      # shellcheck disable=SC2086
      line=$(taskset -c "$LOAD_CPU" "$out/loadgen" -p "$(port_of "$name")" -c "$conns" $shape -d "$DURATION" -w "$WARMUP" -P "$server_pid")
      stop_server
      echo "{\"round\":$round,\"case\":\"$kind\",\"server\":\"$name\",\"load1\":$load0,${line#\{}" | tee -a "$results"
    done
  done
done

python3 bench/summarize_uring.py "$results" | tee "$out/summary.md"
