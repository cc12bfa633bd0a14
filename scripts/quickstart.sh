#!/usr/bin/env bash
# Sets up, starts the server with its built-in defaults (on a free port), fits a sample fixture
# through it with the CLI, shows the result, and stops the server with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
work="$(mktemp -d)"
.venv/bin/scmfit serve --address 127.0.0.1:0 --port-file "$work/port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do [ -s "$work/port" ] && break; sleep 0.1; done
address="127.0.0.1:$(cat "$work/port")"
for _ in $(seq 1 600); do
  [ "$(.venv/bin/scmfit health --address "$address" 2>/dev/null)" = SERVING ] && break
  sleep 0.2
done
echo "scmfit is serving on $address; fitting fixtures/${1:-linear_chain}.json"
.venv/bin/scmfit fit --case "fixtures/${1:-linear_chain}.json" --address "$address"
