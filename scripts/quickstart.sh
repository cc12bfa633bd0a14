#!/usr/bin/env bash
# Sets up, starts the server with its built-in defaults (on a free port), fits a sample fixture
# through it with the CLI, shows the result, and stops the server with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/lib.sh
work="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill -TERM $server 2>/dev/null && wait $server; rm -rf "$work"' EXIT
start_server "$work"
echo "scmfit is serving on $address; fitting fixtures/${1:-linear_chain}.json"
.venv/bin/scmfit fit --case "fixtures/${1:-linear_chain}.json" --address "$address"
