#!/usr/bin/env python3
"""Ratio tables from the CSV of scripts/torch-side-by-side.sh's BenchmarkDotNet run (tests/NetDsl.TorchBenchmarks).

Times are BenchmarkDotNet's medians (the machines are shared; the median is steadier than the mean under load).
Ratio = LibTorch's time / NetDsl's time for the same case and thread count (> 1: NetDsl is faster).
"""
import csv
import sys

TARGETS = {("cnn-train-128", 2): 3.0, ("cnn-infer-128", 2): 4.0, ("cnn-infer-1", 2): 5.0}


def number(text):
    text = (text or "").replace(",", "").strip()
    try:
        return float(text)
    except ValueError:
        return None


def main(paths):
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            rows.extend(csv.DictReader(f))
    if not rows:
        sys.exit("no rows")
    keys = rows[0].keys()
    median = next(k for k in keys if k.startswith("Median"))
    allocated = next((k for k in keys if k.startswith("Allocated")), None)
    type_key = "Type" if "Type" in keys else None

    def kind(r):
        return (r.get(type_key) or "") if type_key else ""

    table = {}  # (job, case, threads) -> (ms, allocated)
    peak_ms = None
    for r in rows:
        ms = number(r[median])
        if ms is None:
            continue
        if r.get("Method") == "FmaPeak512":
            peak_ms = ms
            continue
        threads = int(number(r.get("Threads")) or 2)
        table[(r["Job"], r["Case"], threads, "Scaling" in kind(r))] = (ms, r.get(allocated, "") if allocated else "")

    out = []
    if peak_ms:
        out.append(f"FP32 peak in the same run (FmaPeak512): {peak_ms:.3f} ms for 384 MFLOP = {384 / peak_ms:.1f} GFLOP/s per thread, {2 * 384 / peak_ms:.0f} on 2 threads\n")

    def batch(case):
        return int(case.split("-")[2])

    def per_s(case, ms):
        return batch(case) * 1000.0 / ms

    cases = sorted({(c, t) for (j, c, t, s) in table if not s}, key=lambda x: (order(x[0]), x[1]))
    out.append("| case | threads | NetDsl | LibTorch, malloc as is | LibTorch, malloc tuned | NetDsl / LibTorch (as is) | NetDsl / LibTorch (tuned) | NetDsl allocated per op |")
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|")
    verdicts = []
    for case, t in cases:
        n = table.get(("NetDsl", case, t, False))
        u = table.get(("LibTorch", case, t, False))
        tu = table.get(("LibTorchTuned", case, t, False))
        if not n:
            continue
        cell = lambda x: f"{x[0]:.3f} ms ({per_s(case, x[0]):,.0f} img/s)" if x else "-"
        ratio = lambda x: f"{x[0] / n[0]:.2f}x" if x else "-"
        out.append(f"| {case} | {t} | {cell(n)} | {cell(u)} | {cell(tu)} | {ratio(u)} | {ratio(tu)} | {n[1]} B |")
        if (case, t) in TARGETS and tu:
            r = tu[0] / n[0]
            verdicts.append(f"- {case}, {t} threads: {r:.2f}x against tuned LibTorch (target >= {TARGETS[(case, t)]:.0f}x): {'met' if r >= TARGETS[(case, t)] else 'NOT met'}")
    alloc = [(c, t, v[1]) for (j, c, t, s), v in table.items() if j == "NetDsl"]
    nonzero = [a for a in alloc if (number(a[2]) or 0) != 0]
    verdicts.append(f"- NetDsl allocated per operation: {'0 B in every case (met)' if not nonzero else 'NOT 0 B: ' + str(nonzero)}")
    out.append("\nTargets (2 threads, against tuned LibTorch in the same run):")
    out.extend(verdicts)

    scaling = sorted({c for (j, c, t, s) in table if s}, key=order)
    if scaling:
        out.append("\nScaling, 2 threads (LibTorch with the tuned malloc):\n")
        out.append("| case | NetDsl images/s | LibTorch images/s | NetDsl / LibTorch |")
        out.append("|---|--:|--:|--:|")
        for case in scaling:
            n = table.get(("NetDsl", case, 2, True))
            tu = table.get(("LibTorchTuned", case, 2, True))
            if n and tu:
                out.append(f"| {case} | {per_s(case, n[0]):,.0f} | {per_s(case, tu[0]):,.0f} | {tu[0] / n[0]:.2f}x |")
            elif n:
                out.append(f"| {case} | {per_s(case, n[0]):,.0f} | - | - |")
    print("\n".join(out))


def order(case):
    net, op, b = case.split("-")
    nets = ["cnn", "mlp128", "mlp256", "mlp512", "mlp1024", "mlp2048", "resnet", "resnet18"]
    return (nets.index(net) if net in nets else 99, op != "train", int(b))


if __name__ == "__main__":
    main(sys.argv[1:])
