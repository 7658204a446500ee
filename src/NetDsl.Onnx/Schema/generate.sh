#!/usr/bin/env bash
# Regenerates OnnxSchema.g.cs from onnx.proto with the protoc that NuGet's Google.Protobuf.Tools ships (the version
# pinned in Directory.Packages.props, matching the Google.Protobuf runtime). The output is checked in: the build needs
# no native tool, the generated API can be reviewed in diffs, and OnnxSchemaTests fails if it is stale.
# Usage: bash src/NetDsl.Onnx/Schema/generate.sh [OUTPUT]   (after a restore of src/NetDsl.Onnx, which brings the
# package; OUTPUT defaults to OnnxSchema.g.cs beside this script)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${PROTOBUF_TOOLS_VERSION:-3.36.2}"
protoc="${NUGET_PACKAGES:-$HOME/.nuget/packages}/google.protobuf.tools/$version/tools/linux_x64/protoc"
if [ ! -f "$protoc" ]; then
  echo "protoc not found at $protoc: restore src/NetDsl.Onnx first (it references Google.Protobuf.Tools $version)" >&2
  exit 1
fi
[ -x "$protoc" ] || chmod u+x "$protoc"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$protoc" --proto_path="$here" --csharp_out="$out" --csharp_opt=file_extension=.g.cs onnx.proto
target="${1:-$here/OnnxSchema.g.cs}"
{
  echo "// Generated from onnx.proto (ONNX v1.22.0, see its header) by src/NetDsl.Onnx/Schema/generate.sh with"
  echo "// $("$protoc" --version) from NuGet's Google.Protobuf.Tools $version. Do not edit: edit the script and rerun it."
  cat "$out/Onnx.g.cs"
} > "$target"
echo "wrote $target"
