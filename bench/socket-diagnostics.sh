#!/usr/bin/env bash
# What EventLoop.GetSocketDiagnostics costs at many connections, quiet and during a flood (bench/RESULTS.md,
# "GetSocketDiagnostics"). One server process (one loop), the C load generator in another process; quiet and flood
# alternate in every round. Bounded: each condition holds its connections only while CALLS calls are made.
#   bash bench/socket-diagnostics.sh [CONNS (comma-separated)] [ROUNDS] [CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-1000,5000,9000}
ROUNDS=${2:-3}
CALLS=${3:-15}
out=artifacts/bench/socket-diagnostics
mkdir -p "$out"
gcc -O2 -Wall -o "$out/loadgen" bench/c/loadgen.c
dotnet build -c Release bench/SocketDiagnosticsCost -o "$out/bin" >/dev/null
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
dotnet "$out/bin/SocketDiagnosticsCost.dll" "$out/loadgen" "$CONNS" "$ROUNDS" "$CALLS"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
