#!/usr/bin/env bash
# Proves the proto contract serves non-Python clients: the Node.js example and grpcurl (through
# server reflection) against a real server on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
work="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill -TERM $server 2>/dev/null && wait $server || true; rm -rf "$work"' EXIT
start_server "$work" --workers 1

echo "== grpcurl through reflection"
grpcurl=.venv/bin/grpcurl
"$grpcurl" -plaintext "$address" list | tee "$work/list"
grep -q '^scmfit.v1.CausalModelService$' "$work/list"
grep -q '^grpc.health.v1.Health$' "$work/list"
"$grpcurl" -plaintext "$address" describe scmfit.v1.CausalModelService | tee "$work/describe"
grep -q "rpc FitModel ( .scmfit.v1.FitModelRequest ) returns ( stream .scmfit.v1.FitModelResponse )" "$work/describe"
"$grpcurl" -plaintext -d '{"service": "scmfit.v1.CausalModelService"}' "$address" grpc.health.v1.Health/Check | tee "$work/health"
grep -q '"status": "SERVING"' "$work/health"
"$grpcurl" -plaintext -d @ "$address" scmfit.v1.CausalModelService/FitModel > "$work/fit.json" <<'JSON'
{"graph": {"nodes": ["x", "y"], "edges": [{"source": "x", "target": "y"}]},
 "dataset": {"columns": [
   {"name": "x", "int64s": {"values": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}},
   {"name": "y", "int64s": {"values": [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]}}]},
 "config": {"minSamples": 10}}
JSON
grep -q '"status": "FIT_STATUS_SUCCESS"' "$work/fit.json"
grep -q '"stage": "STAGE_EVALUATING"' "$work/fit.json"
echo "grpcurl: list, describe, health and a streamed FitModel all work"

echo "== Node.js client (@grpc/grpc-js, proto/ loaded at run time)"
(cd examples/node && npm ci --no-audit --no-fund --silent)
node examples/node/fit.js --address "$address" --case fixtures/complex_dag.json | tee "$work/node.out"
grep -q "status FIT_STATUS_SUCCESS" "$work/node.out"
[ "$(grep -c '^progress' "$work/node.out")" -ge 12 ]
echo "examples: the Node.js client and grpcurl both work"
