#!/usr/bin/env python3
"""Ratio tables from the CSV of scripts/torch-side-by-side.sh's BenchmarkDotNet run (tests/NetDsl.TorchBenchmarks).

Times are BenchmarkDotNet's medians (the machines are shared; the median is steadier than the mean under load).
Ratio = LibTorch's time / NetDsl's time for the same case and thread count (> 1: NetDsl is faster).
"""
import csv
import re
import sys

TARGETS = {("cnn-train-128", 2): 3.0, ("cnn-infer-128", 2): 4.0, ("cnn-infer-1", 2): 5.0}


UNITS = {"ns": 1e-6, "us": 1e-3, "\u03bcs": 1e-3, "\u00b5s": 1e-3, "ms": 1.0, "s": 1e3,  # to ms
         "B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}  # to bytes


def number(text):
    """BenchmarkDotNet's CSV cells carry units ("3,218.7 \u03bcs", "1440 B"): times in ms, sizes in bytes."""
    text = (text or "").replace(",", "").strip()
    if text == "-":
        return 0.0
    parts = text.split()
    try:
        value = float(parts[0])
    except (ValueError, IndexError):
        return None
    return value * UNITS.get(parts[1], 1.0) if len(parts) > 1 else value


def rows_from_log(path):
    """The same rows from BenchmarkDotNet's console log (run.log), for a run stopped before its final CSV."""
    rows, current = [], None
    header = re.compile(r"^// Benchmark: (\w+)\.(\w+): (\w+)\(.*?\)(?: \[(.*)\])?$")
    with open(path, errors="replace") as f:
        for line in f:
            m = header.match(line.strip())
            if m:
                current = {"Type": m.group(1), "Method": m.group(2), "Job": m.group(3), "Case": "?", "Threads": "?"}
                for part in (m.group(4) or "").split(", "):
                    if "=" in part:
                        k, v = part.split("=", 1)
                        current[k] = v
                continue
            if current is None:
                continue
            if line.startswith("// GC:"):
                gc = line.split()[2:]
                current["Allocated"] = f"{int(gc[3]) / max(1, int(gc[4])):.0f} B"
            elif line.startswith("Min = ") and "Median = " in line:
                current["Median"] = line.split("Median = ")[1].split(",")[0]
                rows.append(current)
                current = None
    return rows


def main(paths):
    rows = []
    for path in paths:
        if path.endswith(".log"):
            rows.extend(rows_from_log(path))
            continue
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
        table[(r["Job"], r["Case"], threads, "Scaling" in kind(r))] = (ms, number(r.get(allocated)) if allocated else None)

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
        out.append(f"| {case} | {t} | {cell(n)} | {cell(u)} | {cell(tu)} | {ratio(u)} | {ratio(tu)} | {n[1]:.0f} B |")
        if (case, t) in TARGETS and tu:
            r = tu[0] / n[0]
            verdicts.append(f"- {case}, {t} threads: {r:.2f}x against tuned LibTorch (target >= {TARGETS[(case, t)]:.0f}x): {'met' if r >= TARGETS[(case, t)] else 'NOT met'}")
    alloc = [(c, t, v[1]) for (j, c, t, s), v in table.items() if j == "NetDsl"]
    nonzero = [a for a in alloc if a[2]]
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
