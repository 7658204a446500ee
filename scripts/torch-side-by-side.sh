#!/usr/bin/env bash
# NetDsl side by side with LibTorch (TorchSharp-cpu 0.107.0, LibTorch 2.10) in ONE BenchmarkDotNet run:
# tests/NetDsl.TorchBenchmarks (outside NetDsl.sln and CI: it restores ~600 MB of LibTorch). Restores, builds, runs
# every case (1 and 2 threads; LibTorch with glibc's malloc as it comes and tuned), the scaling cases and the FP32
# peak, then prints the ratio tables (scripts/torch-side-by-side-summary.py) and writes them to
# artifacts/torch-side-by-side/summary.md. Extra arguments go to BenchmarkDotNet (e.g. --filter '*SideBySide*').
# Measured on the 2-core machine: the side-by-side cases with the peak 5.5 min, the scaling cases ~8 min (plus about a
# minute for BenchmarkDotNet to build its project). BenchmarkDotNet runs the classes in name order: Peak, Scaling*, SideBySide*.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=artifacts/torch-side-by-side
project=tests/NetDsl.TorchBenchmarks

echo "load before: $(uptime)"
dotnet restore "$project"
dotnet build "$project" -c Release --no-restore
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
filter=('*')
if [ "$#" -gt 0 ]; then filter=(); fi
dotnet run -c Release --no-build --project "$project" -- --join --artifacts "$out" ${filter[@]:+--filter "${filter[@]}"} "$@" | tee "$out/run.log"
end=$(date +%s)
echo "load after: $(uptime)"
echo "BenchmarkDotNet run: $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s"
python3 scripts/torch-side-by-side-summary.py "$out"/results/*-report.csv | tee "$out/summary.md"
