#!/usr/bin/env bash
# Runs lift-sys's own causal tests against a local scmfit server through the drop-in adapter.
#
#   scripts/liftsys_check.sh /path/to/lift-sys [extra pytest args]
#
# LIFTSYS_PYTHON: the Python of lift-sys's environment (default: <lift-sys>/.venv/bin/python).
# The script installs this checkout's client into that environment (no DoWhy, no server deps),
# starts `scmfit serve` on a free loopback port, and runs <lift-sys>/tests/causal with
# scripts/liftsys_plugin.py, which swaps lift-sys's DoWhyClient for scmfit.client.compat's and
# drops the module skip of test_scm_fitter_dynamic.py. It prints pass, fail, error and skip
# counts and the wall time. No lift-sys file is changed or copied.
# SCMFIT_LIFTSYS_BASELINE=1 runs the same tests (same unskip) against lift-sys's own subprocess
# client instead, for a like-for-like comparison (it needs lift-sys's .venv-dowhy).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
liftsys="$(cd "${1:?usage: scripts/liftsys_check.sh /path/to/lift-sys [pytest args]}" && pwd)"
shift
python="${LIFTSYS_PYTHON:-$liftsys/.venv/bin/python}"
[ -x "$python" ] || { echo "error: no Python at $python; set LIFTSYS_PYTHON" >&2; exit 2; }
bash "$here/scripts/setup.sh"
"$here/.tools/uv/bin/uv" pip install -q --python "$python" "$here"
work="$(mktemp -d)"
# -P: scmfit is a namespace package, so a `scmfit/` folder in the current directory would join it.
"$here/.venv/bin/python" -P -m scmfit.server --address 127.0.0.1:0 --port-file "$work/port" \
  >"$work/server.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 600); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/server.log" >&2; exit 1; }
export SCMFIT_ADDRESS="127.0.0.1:$(cat "$work/port")"
"$here/.venv/bin/python" -P - <<PY || { cat "$work/server.log" >&2; exit 1; }
import sys
import time
from scmfit.client import Client, ScmfitError
with Client("$SCMFIT_ADDRESS", timeout=2) as client:
    for _ in range(600):
        try:
            if client.health() == "SERVING":
                break
        except ScmfitError:
            pass
        time.sleep(0.2)
    else:
        sys.exit("error: the scmfit server at $SCMFIT_ADDRESS did not report SERVING within 120 s")
PY
if [ "${SCMFIT_LIFTSYS_BASELINE:-0}" = 1 ]; then
  echo "== lift-sys tests/causal against its own subprocess client (baseline)"
else
  echo "== lift-sys tests/causal against scmfit at $SCMFIT_ADDRESS"
fi
started=$SECONDS
set +e
(cd "$liftsys" && PYTHONPATH="$here/scripts${PYTHONPATH:+:$PYTHONPATH}" "$python" -m pytest tests/causal \
  -p liftsys_plugin --scmfit-unskip test_scm_fitter_dynamic.py -p no:cacheprovider -q "$@" \
  | tee "$work/pytest.log")
status=${PIPESTATUS[0]}
set -e
echo "== $(tail -n 1 "$work/pytest.log" | sed 's/=//g' | xargs) (wall $((SECONDS - started)) s; pytest exit $status)"
exit "$status"
