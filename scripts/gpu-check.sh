#!/usr/bin/env bash
# The GPU check: run on a machine with an NVIDIA GPU from the folder scripts/prepare-gpu-check.sh builds (or from the
# repository, where it uses that folder's default location). It checks first that a GPU and its driver are there
# (nvidia-smi, libcuda), then runs the check program: parity of every GPU test network with the CPU backend on CUDA,
# MnistTransfer trained on CUDA and on the CPU, the reference CNN's images/s (training step and inference at batch
# 128 and 1024) with the device memory used, and the model table (ResNet-18/50/101/152, VGG16/19, AlexNet, GoogLeNet at
# 224 x 224 x 3): inference and training images/s at batch 32 next to the reference document's images/s. Exit code 0
# only if every parity case passed. Arguments go to the check program; among them:
#   --parity-only            parity alone
#   --no-table               everything but the model table
#   --table-only             the model table alone (exit code 0 when every model has its figures)
#   --table-models A,B       some of the models (ResNet18 ResNet50 ResNet101 ResNet152 Vgg16 Vgg19 AlexNet GoogLeNet)
#   --table-batch N, --table-seconds S (per timed loop, 1.5), --table-cap S (420: no model starts past it)
#   --table-smoke            the table's code path at batch 1, one step, on any device (with --allow-cpu semantics)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/bin/NetDsl.GpuCheck"
[ -x "$bin" ] || bin="$here/../artifacts/gpu-check/bin/NetDsl.GpuCheck"
if [ ! -x "$bin" ]; then
  echo "error: the check program is missing; build the folder first: bash scripts/prepare-gpu-check.sh" >&2
  exit 2
fi

if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
else
  echo "warning: nvidia-smi not found; the check program will look for the CUDA driver itself" >&2
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so'; then
  echo "warning: libcuda.so is not in the linker cache; CUDA may be unavailable" >&2
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The bundle extracts its native libraries into a writable directory.
export DOTNET_BUNDLE_EXTRACT_BASE_DIR="${DOTNET_BUNDLE_EXTRACT_BASE_DIR:-${TMPDIR:-/tmp}/netdsl-gpu-check}"
exec "$bin" "$@"
