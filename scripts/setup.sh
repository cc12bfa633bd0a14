#!/usr/bin/env bash
# Creates .venv (Python 3.11: server, CLI and dev tools) and .venv-client313 (Python 3.13: the client
# alone, without DoWhy). Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x .venv/bin/python ]; then
  "$(find_python 3.11)" -m venv .venv
fi
.venv/bin/python -m pip install -q -e '.[server,cli,web,dev]'

if [ ! -x .venv-client313/bin/python ]; then
  "$(find_python 3.13)" -m venv .venv-client313
fi
.venv-client313/bin/python -m pip install -q '.[cli]' \
  pytest pytest-timeout psutil hypothesis cryptography 'grpcio-reflection==1.85.1'

# Python 3.12 too: the client supports 3.11 through 3.13.
if [ ! -x .venv-client312/bin/python ]; then
  "$(find_python 3.12)" -m venv .venv-client312
fi
.venv-client312/bin/python -m pip install -q '.[cli]' pytest pytest-timeout psutil hypothesis cryptography

# The client must never pull in DoWhy or scikit-learn.
for forbidden in dowhy sklearn; do
  for env in .venv-client313 .venv-client312; do
    if "$env/bin/python" -c "import $forbidden" >/dev/null 2>&1; then
      echo "setup: $forbidden is importable in the client-only environment $env" >&2
      exit 1
    fi
  done
done
echo "setup: .venv ($(.venv/bin/python -V)), .venv-client313 ($(.venv-client313/bin/python -V)) and .venv-client312 ($(.venv-client312/bin/python -V)) ready"
