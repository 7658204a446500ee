#!/usr/bin/env bash
# The trainer (samples/Trainer, the netdsl-trainer template's content) under the JIT and as Native-AOT binaries, side
# by side in one run: the variants alternate, RUNS rounds, medians reported. Prints binary sizes, seconds from process
# start to the end of the first training step, training images/s and test accuracy.
#   bash scripts/aot-vs-jit.sh            (RUNS=3, ARGS="--epochs 2 --threads 2")
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
args=${ARGS:---epochs 2 --threads 2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
dotnet build samples/Trainer -c Release >/dev/null
dotnet publish samples/Trainer -c Release -r linux-x64 -p:IlcInstructionSet=x86-64-v3 -o "$out/aot-v3" >/dev/null
dotnet publish samples/Trainer -c Release -r linux-x64 -p:IlcInstructionSet=native -o "$out/aot-native" >/dev/null
declare -A cmd=(
  [jit]="dotnet samples/Trainer/bin/Release/net10.0/Trainer.dll"
  [aot-v3]="$out/aot-v3/Trainer"
  [aot-native]="$out/aot-native/Trainer"
)
variants=(jit aot-v3 aot-native)
for ((i = 1; i <= runs; i++)); do
  for v in "${variants[@]}"; do
    # shellcheck disable=SC2086
    line=$(${cmd[$v]} $args --json --quiet | tail -1)
    echo "$v $line" >> "$out/results"
    echo "round $i $v: $line" >&2
  done
done
python3 - "$out/results" "$out" <<'PY'
import json, os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    v, j = line.split(" ", 1)
    rows.setdefault(v, []).append(json.loads(j))
size = {"jit": None, "aot-v3": os.path.getsize(os.path.join(sys.argv[2], "aot-v3", "Trainer")),
        "aot-native": os.path.getsize(os.path.join(sys.argv[2], "aot-native", "Trainer"))}
jit = statistics.median(r["images_per_s"] for r in rows["jit"])
print("| build | binary | first step (s) | images/s | vs JIT | test accuracy |")
print("|---|--:|--:|--:|--:|--:|")
for v, rs in rows.items():
    ips = statistics.median(r["images_per_s"] for r in rs)
    first = statistics.median(r["first_step_seconds"] for r in rs)
    acc = statistics.median(r["test_accuracy"] for r in rs)
    b = "IL (dotnet)" if size[v] is None else f"{size[v] / 2**20:.1f} MiB"
    print(f"| {v} | {b} | {first:.3f} | {ips:,.0f} | {ips / jit:.3f}x | {acc:.4f} |")
PY
