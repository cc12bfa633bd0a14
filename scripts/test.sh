#!/usr/bin/env bash
# The whole test suite: everything on Python 3.11; the client and integration tests again on
# Python 3.13 (client only, no DoWhy) against a server running on 3.11, with the lift-sys adapter tests
# (tests/compat); the client's unit tests on 3.12.
# Tests run in parallel (pytest-xdist), each worker with its own server on a port the OS picks.
#
# The browser tests drive Debian's chromium. When it is missing and this runs as root, it is installed
# with apt-get; SCMFIT_SKIP_BROWSER=1 skips those tests instead (they are then reported as skipped).
# The Ray executor's tests run in a network namespace of their own (scripts/ray_test.sh, as root);
# SCMFIT_SKIP_RAY=1 skips them.
# The long fuzz run and the soak are separate commands (see docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${SCMFIT_SKIP_BROWSER:-0}" != 1 ] && [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
  echo "== installing Debian's chromium for the browser tests (SCMFIT_SKIP_BROWSER=1 skips them)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
workers="${SCMFIT_TEST_WORKERS:-2}"
started=$SECONDS
echo "== Python 3.11: server, client and integration tests"
.venv/bin/python -m pytest -q -p no:cacheprovider -n "$workers" --ignore=tests/web --ignore=tests/ray "$@"
echo "== Python 3.11: browser tests (one browser at a time: they time out when competing for 2 cores)"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/web "$@"
if [ "${SCMFIT_SKIP_RAY:-0}" = 1 ]; then
  echo "== Ray executor tests SKIPPED (SCMFIT_SKIP_RAY=1)"
elif [ "$(id -u)" != 0 ]; then
  echo "== Ray executor tests SKIPPED: they need root for their own network namespace (unshare -n)"
else
  echo "== Python 3.11: Ray executor on a real two-node cluster, in a network namespace with loopback only"
  bash scripts/ray_test.sh "$@"
fi
echo "== Python 3.13 client against the 3.11 server"
SCMFIT_SERVER_PYTHON="$PWD/.venv/bin/python" .venv-client313/bin/python -m pytest -q -p no:cacheprovider \
  -n "$workers" -m "not server_internals" tests/client tests/integration tests/compat "$@"
echo "== Python 3.12 client unit tests"
.venv-client312/bin/python -m pytest -q -p no:cacheprovider tests/client "$@"
echo "== all suites passed in $((SECONDS - started))s"
