#!/usr/bin/env bash
# The Ray executor's tests, inside a network namespace of their own where loopback is the only
# interface: Ray rewrites 127.0.0.1 to the machine's interface address, and test traffic must never
# leave loopback. The cluster, the servers and the test client all run in it. Needs root (unshare -n).
set -euo pipefail
cd "$(dirname "$0")/.."
exec unshare -n bash -c 'ip link set lo up && exec .venv/bin/python -m pytest -q -p no:cacheprovider tests/ray "$@"' \
  ray_test "$@"
