#!/usr/bin/env bash
# Regenerates the committed Python stubs from proto/ into client/scmfit/v1/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
export PATH="$(dirname "$PY"):$PATH"
out=client/scmfit/v1
rm -f "$out"/*_pb2*.py "$out"/*_pb2*.pyi
"$PY" -m grpc_tools.protoc -I proto \
  --python_out=client --grpc_python_out=client \
  --mypy_out=client --mypy_grpc_out=client \
  proto/scmfit/v1/*.proto
# The descriptor set, with the proto's comments (source info), travels with the stubs: the comments are
# the documentation of every field, and the CLI's help reads them instead of restating them.
"$PY" -m grpc_tools.protoc -I proto --include_source_info \
  --descriptor_set_out="$out/causal_model_service.binpb" proto/scmfit/v1/causal_model_service.proto
