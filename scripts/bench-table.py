#!/usr/bin/env python3
"""Prints the README's benchmark tables from criterion's output (target/criterion), so README numbers are
regenerated, not typed.

Usage: scripts/bench-table.py [CRITERION_DIR]

Each benchmark id is GROUP/CASE/IMPL (for example jwt_verify/HS256/tollgate). For every GROUP/CASE the table shows
each implementation's median time, throughput when criterion recorded one, and the ratio of the peer's time to
tollgate's ("2.0x" = tollgate takes half the time). Exit 1 when no results are found."""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "target", "criterion")
rows = {}
for dirpath, _dirs, files in os.walk(root):
    if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
        continue
    bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
    est = json.load(open(os.path.join(dirpath, "estimates.json")))
    group, case, impl = bench["group_id"], bench["function_id"], bench["value_str"]
    if case is None or impl is None:
        continue
    tp = bench.get("throughput") or {}
    rows.setdefault((group, case), {})[impl] = (est["median"]["point_estimate"], tp.get("Bytes"))


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(nbytes, ns):
    if not nbytes:
        return ""
    gib = nbytes / (ns / 1e9) / (1 << 30)
    return f"{gib:.3g} GiB/s" if gib >= 1 else f"{gib * 1024:.3g} MiB/s"


if not rows:
    print(f"no criterion results under {root}", file=sys.stderr)
    sys.exit(1)

for group in sorted({g for g, _ in rows}):
    print(f"\n**{group}**\n")
    print("| case | implementation | median | throughput | peer time / tollgate time |")
    print("|---|---|---|---|---|")
    for (g, case), impls in sorted(rows.items()):
        if g != group:
            continue
        ours = impls.get("tollgate")
        for impl in sorted(impls, key=lambda i: (i != "tollgate", i)):
            ns, nbytes = impls[impl]
            ratio = "" if impl == "tollgate" or ours is None else f"{ns / ours[0]:.2f}x"
            print(f"| {case} | {impl} | {fmt_time(ns)} | {fmt_rate(nbytes, ns)} | {ratio} |")
