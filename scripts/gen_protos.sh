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
