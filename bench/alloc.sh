#!/usr/bin/env bash
# Zero-allocation check: BenchmarkDotNet MemoryDiagnoser on a loopback 64-byte ping-pong against EventLoop
# (level- and edge-triggered), in-process, short job (about a minute). Results in bench/out/bdn/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out/bdn
dotnet run -c Release --project bench/NoBlock.Benchmarks -- --filter '*PingPong*' --artifacts bench/out/bdn "$@"
