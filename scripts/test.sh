#!/usr/bin/env bash
# The whole test suite: everything on Python 3.11; the client and integration tests again on
# Python 3.13 (client only, no DoWhy) against a server running on 3.11; the client's unit tests on 3.12.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
  # The browser tests drive Debian's chromium; a browser is never downloaded by a test tool.
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "== Python 3.11: server, client and integration tests"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
echo "== Python 3.13 client against the 3.11 server"
SCMFIT_SERVER_PYTHON="$PWD/.venv/bin/python" .venv-client313/bin/python -m pytest -q -p no:cacheprovider \
  tests/client tests/integration "$@"
echo "== Python 3.12 client unit tests"
.venv-client312/bin/python -m pytest -q -p no:cacheprovider tests/client "$@"
