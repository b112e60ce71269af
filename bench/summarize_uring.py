"""Medians per (case, connections, server) from bench/uring.sh, and the ratios issue 15 is about."""
import json
import statistics
import sys
from collections import defaultdict

runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = defaultdict(list)
for r in runs:
    by[(r["case"], r["conns"], r["server"])].append(r)

order = ["c-epoll", "c-uring", "c-uring-coop", "noblock-epoll", "noblock-uring", "sockets"]
names = {"pp": "64-byte ping-pong", "st": "streaming, 16 KB messages, 8 in flight per connection"}


def med(rs, key):
    return statistics.median(r[key] for r in rs)


rounds = max(r["round"] for r in runs)
loads = [r["load1"] for r in runs]
print(f"Medians of {rounds} rounds; load average (1 min) during the runs: median {statistics.median(loads):.1f}, "
      f"range {min(loads):.1f}-{max(loads):.1f} on 2 CPUs.\n")
for case in ["pp", "st"]:
    conns_list = sorted({c for k, c, _ in by if k == case})
    if not conns_list:
        continue
    print(f"### {names[case]}\n")
    print("| conns | server | req/s | p50 µs | p99 µs | server CPU µs/req | CPU/req vs C epoll | CPU/req vs C io_uring | req/s vs C epoll | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for conns in conns_list:
        ce = by.get((case, conns, "c-epoll"))
        cu = by.get((case, conns, "c-uring"))
        for s in order:
            rs = by.get((case, conns, s))
            if not rs:
                continue
            rps, p50, p99, cpu = med(rs, "rps"), med(rs, "p50_us"), med(rs, "p99_us"), med(rs, "cpu_us_per_req")
            vs_ce = f"{cpu / med(ce, 'cpu_us_per_req'):.2f}×" if ce else "-"
            vs_cu = f"{cpu / med(cu, 'cpu_us_per_req'):.2f}×" if cu else "-"
            rps_ce = f"{rps / med(ce, 'rps'):.2f}×" if ce else "-"
            errs = sum(r["errors"] for r in rs)
            print(f"| {conns} | {s} | {rps:,.0f} | {p50:.0f} | {p99:.0f} | {cpu:.2f} | {vs_ce} | {vs_cu} | {rps_ce} | {errs} |")
    print()

# Per-round ratios: the same round's contenders ran minutes apart at most, so their ratio is steadier than the
# ratio of medians when the machine's load drifts.
print("### Per-round CPU-per-request ratios (median over rounds, min-max)\n")
print("| case | conns | ratio | median | min | max |")
print("|---|---:|---|---:|---:|---:|")
pairs = [("c-uring", "c-epoll"), ("c-uring-coop", "c-uring"), ("noblock-uring", "c-epoll"), ("noblock-uring", "c-uring"), ("noblock-uring", "noblock-epoll"), ("noblock-epoll", "c-epoll")]
for case in ["pp", "st"]:
    for conns in sorted({c for k, c, _ in by if k == case}):
        for a, b in pairs:
            ratios = []
            for rnd in range(1, rounds + 1):
                ra = [r for r in by.get((case, conns, a), []) if r["round"] == rnd]
                rb = [r for r in by.get((case, conns, b), []) if r["round"] == rnd]
                if ra and rb and rb[0]["cpu_us_per_req"] > 0:
                    ratios.append(ra[0]["cpu_us_per_req"] / rb[0]["cpu_us_per_req"])
            if ratios:
                print(f"| {case} | {conns} | {a} / {b} | {statistics.median(ratios):.2f} | {min(ratios):.2f} | {max(ratios):.2f} |")

print("\n### Every run\n")
print("| round | case | conns | server | load | req/s | p50 µs | p99 µs | CPU µs/req | errors |")
print("|---:|---|---:|---|---:|---:|---:|---:|---:|---:|")
for r in runs:
    print(f"| {r['round']} | {r['case']} | {r['conns']} | {r['server']} | {r['load1']} | {r['rps']:,.0f} | {r['p50_us']} | {r['p99_us']} | {r['cpu_us_per_req']:.2f} | {r['errors']} |")
