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
cat <<NEXT

Next, from this directory in any shell (the commands live in .venv/bin; nothing needs activating):
  .venv/bin/scmfit serve                                   # a server on 127.0.0.1:50051; Ctrl-C stops it
  .venv/bin/scmfit fit --case fixtures/linear_chain.json   # in a second shell: fit through it
  .venv/bin/scmfit query --model <id printed by fit> --do X=2 --nodes Z
  .venv/bin/scmfit fit --help                              # every setting, with its default
Or put them on PATH for this shell: source .venv/bin/activate (then plain \`scmfit ...\`).
To stop a server started in the background: kill -TERM <its pid> (it finishes in-flight calls first).
NEXT
