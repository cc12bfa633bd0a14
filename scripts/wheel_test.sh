#!/usr/bin/env bash
# Builds the sdist and the wheel with uv, installs the wheel in fresh environments with no access to
# this checkout, and runs each one's command: the client and CLI on Python 3.13 (no DoWhy), and the
# server on 3.11, which must answer a fit made with the client. It fails on any step.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
here="$PWD"
uv=.tools/uv/bin/uv
work="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill -TERM $server 2>/dev/null && { wait $server || true; }; rm -rf "$work"' EXIT
"$uv" build -q --out-dir "$work/dist"
wheel="$(ls "$work"/dist/scmfit-*.whl)"
# The versions uv.lock chose, as constraints: a fresh install gets what the tests ran on.
"$uv" export -q --frozen --no-hashes --no-emit-project --all-extras -o "$work/constraints.txt"
ls "$work"/dist/scmfit-*.tar.gz >/dev/null
echo "built $(cd "$work/dist" && ls | xargs)"

"$uv" venv -q --python "$(find_python 3.13)" "$work/client"
"$uv" pip install -q --python "$work/client/bin/python" -c "$work/constraints.txt" "$wheel[cli]"
(cd "$work" && client/bin/scmfit --version)
if (cd "$work" && client/bin/python -c "import dowhy" 2>/dev/null); then
  echo "the client wheel installed DoWhy" >&2; exit 1
fi
(cd "$work" && client/bin/scmfit serve 2>"$work/serve.err") && { echo "serve ran without the server extra" >&2; exit 1; }
grep -q "server extra" "$work/serve.err"

"$uv" venv -q --python "$(find_python 3.11)" "$work/server"
"$uv" pip install -q --python "$work/server/bin/python" -c "$work/constraints.txt" "$wheel[server,cli]"
# Console scripts put their own bin/ first on sys.path, never the current directory: the checkout
# here cannot stand in for the installed wheel.
"$work/server/bin/scmfit" serve --address 127.0.0.1:0 --port-file "$work/port" --workers 1 \
  >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1200); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/server.log" >&2; echo "the wheel's server did not start" >&2; exit 1; }
address="127.0.0.1:$(cat "$work/port")"
for _ in $(seq 600); do
  [ "$(cd "$work" && client/bin/scmfit health --address "$address" 2>/dev/null)" = SERVING ] && break
  sleep 0.2
done
(cd "$work" && client/bin/scmfit fit --case "$here/fixtures/linear_chain.json" --address "$address" >"$work/fit.out")
grep -q "SUCCESS" "$work/fit.out"
kill -TERM "$server"
wait "$server" || { echo "the wheel's server did not stop cleanly on SIGTERM" >&2; exit 1; }
server=""
echo "wheels: the client (3.13) fitted through the server (3.11), each installed from the wheel alone"
