"""Medians per (process size, contender) from bench/stack-capture.sh's JSON lines (bench/out/stack-capture-<contender>-<threads>-<types>-<methods>-<rep>.jsonl)."""
import json
import os
import statistics
import sys
from collections import defaultdict

by = defaultdict(list)  # (threads, types, methods) -> contender -> [runs]
for path in sys.argv[1:]:
    contender, threads, types, methods, _ = os.path.basename(path)[len("stack-capture-"):-len(".jsonl")].split("-")
    lines = [json.loads(l) for l in open(path) if l.strip().startswith("{")]
    setup = next(l for l in lines if l.get("setup"))
    rounds = [l for l in lines if "round" in l]
    summary = next((l for l in lines if l.get("summary")), None)
    if summary is None:
        continue
    on = [r for r in rounds if r["capture"] == "on"]
    by[(int(threads), int(types), int(methods))].append({
        "contender": contender,
        "jitted": setup["jitted_methods"],
        "captures": [c for r in on for c in r["captures_ms"]],
        "peak": summary["peak_rss_mb"],
        "gc_after_on": [r["gc_committed_mb"] for r in on],
        "rss_after_on": [r["rss_mb"] for r in on],
        "alloc_on": [a for r in on for a in r.get("alloc_mb_per_stall", [])],
        "alloc_off": [a for r in rounds if r["capture"] == "off" for a in r.get("alloc_mb_per_stall", [])],
        "heap_after_collect": summary.get("gc_heap_mb_after_collect", float("nan")),
        "committed_after_collect": summary.get("gc_committed_mb_after_collect", float("nan")),
    })

def med(xs):
    return statistics.median(xs) if xs else float("nan")

print("| process | contender | jitted methods | processes | captures | ms per capture, median | max | peak RSS MB (median of processes) | RSS after capture rounds, median MB | GC committed after capture rounds, median MB | MB allocated per stall, capture on / off (medians) | GC heap / committed after a full GC at the end, MB |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for size in sorted(by):
    runs = by[size]
    for contender in ["never", "old", "new"]:
        rs = [r for r in runs if r["contender"] == contender]
        if not rs:
            continue
        caps = [c for r in rs for c in r["captures"]]
        print(f"| {size[0]} threads, {size[1]} types, {size[2]} emitted | {contender} | {rs[0]['jitted']:,} | {len(rs)} | {len(caps)} | "
              f"{med(caps):,.0f} | {max(caps) if caps else float('nan'):,.0f} | {med([r['peak'] for r in rs]):.1f} | "
              f"{med([x for r in rs for x in r['rss_after_on']]):.1f} | {med([x for r in rs for x in r['gc_after_on']]):.1f} | "
              f"{med([x for r in rs for x in r['alloc_on']]):.1f} / {med([x for r in rs for x in r['alloc_off']]):.1f} | "
              f"{med([r['heap_after_collect'] for r in rs]):.1f} / {med([r['committed_after_collect'] for r in rs]):.1f} |")
    new = [c for r in runs if r["contender"] == "new" for c in r["captures"]]
    old = [c for r in runs if r["contender"] == "old" for c in r["captures"]]
    if new and old:
        pn = med([r["peak"] for r in runs if r["contender"] == "new"]); po = med([r["peak"] for r in runs if r["contender"] == "old"])
        pb = med([r["peak"] for r in runs if r["contender"] == "never"]) if any(r["contender"] == "never" for r in runs) else float("nan")
        print(f"|  | new / old | | | | {med(new) / med(old):.2f}× | | +{pn - pb:.0f} MB vs +{po - pb:.0f} MB over never | | | | |")
