#!/usr/bin/env bash
# Builds the self-contained folder the GPU check runs from (default: artifacts/gpu-check): the check program published
# self-contained for linux-x64 as one compressed file (the .NET runtime and ILGPU inside; no SDK, no package feed and
# no network needed where it runs), plus gpu-check.sh. Copy the folder to the machine with the GPU and run
#   bash gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-artifacts/gpu-check}"
rm -rf "$out"
mkdir -p "$out"
dotnet publish tests/NetDsl.GpuCheck -c Release -r linux-x64 --self-contained true \
  -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
  -p:DebugType=none -o "$out/bin" >/dev/null
cp scripts/gpu-check.sh "$out/gpu-check.sh"
size=$(du -sm "$out" | cut -f1)
echo "prepared $out (${size} MiB)"
if [ "$size" -gt 60 ]; then
  echo "error: the folder is over 60 MiB" >&2
  exit 1
fi
