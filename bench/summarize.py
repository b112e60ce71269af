"""Medians per (connections, server) from bench/run.sh output, and the ratios the issue's targets are about."""
import json
import statistics
import sys
from collections import defaultdict

results, idle, alloc = sys.argv[1], sys.argv[2], sys.argv[3]
runs = [json.loads(l) for l in open(results) if l.strip()]
by = defaultdict(list)
for r in runs:
    by[(r["conns"], r["server"])].append(r)

order = ["c", "noblock-lt", "noblock-et", "sockets"]
def med(rs, key):
    return statistics.median(r[key] for r in rs)

print(f"### Ping-pong, 64-byte messages (medians of {max(r['round'] for r in runs)} rounds)\n")
print("| conns | server | req/s | p50 µs | p99 µs | server CPU µs/req | req/s vs C | CPU/req vs C | errors |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for conns in sorted({c for c, _ in by}):
    c_rs = by.get((conns, "c"))
    for s in order:
        rs = by.get((conns, s))
        if not rs:
            continue
        rps, p50, p99, cpu = med(rs, "rps"), med(rs, "p50_us"), med(rs, "p99_us"), med(rs, "cpu_us_per_req")
        rel = f"{rps / med(c_rs, 'rps'):.2f}×" if c_rs else "-"
        relcpu = f"{cpu / med(c_rs, 'cpu_us_per_req'):.2f}×" if c_rs else "-"
        errs = sum(r["errors"] for r in rs)
        print(f"| {conns} | {s} | {rps:,.0f} | {p50:.0f} | {p99:.0f} | {cpu:.2f} | {rel} | {relcpu} | {errs} |")

print("\n### Every run (rounds alternate the contenders)\n")
print("| round | conns | server | req/s | p50 µs | p99 µs | CPU µs/req |")
print("|---:|---:|---|---:|---:|---:|---:|")
for r in runs:
    print(f"| {r['round']} | {r['conns']} | {r['server']} | {r['rps']:,.0f} | {r['p50_us']} | {r['p99_us']} | {r['cpu_us_per_req']:.2f} |")

print("\n### Idle connections\n")
print("| server | connections | RSS before (KiB) | RSS after (KiB) | bytes per connection | sockets before / holding / after dropping all | requests served after the drop |")
print("|---|---:|---:|---:|---:|---|---:|")
for l in open(idle):
    if l.strip():
        r = json.loads(l)
        print(f"| {r['server']} | {r['idle']} | {r['rss_before_kb']} | {r['rss_after_kb']} | {r['bytes_per_conn']} | "
              f"{r.get('fds_before')} / {r.get('fds_held')} / {r.get('fds_after_drop')} | {r.get('requests_after_drop')} |")

snaps = [l.split() for l in open(alloc) if l.startswith("stats:")]
if len(snaps) >= 2:
    reads0, alloc0 = int(snaps[0][2]), int(snaps[0][4])
    reads1, alloc1 = int(snaps[1][2]), int(snaps[1][4])
    dr, da = reads1 - reads0, alloc1 - alloc0
    print("\n### Steady-state allocations (NoBlock level-triggered, 64 connections)\n")
    print(f"{dr:,} requests between the snapshots, {da:,} bytes allocated in the whole process: "
          f"{da / dr if dr else float('nan'):.4f} bytes per request (both snapshots taken while the same 64 connections ping-pong).")
