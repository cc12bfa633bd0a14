#!/usr/bin/env bash
# Creates, from uv.lock, .venv (Python 3.11: server, CLI and dev tools), .venv-client313 and
# .venv-client312 (the client alone, without DoWhy). Each environment records the hash of what it was
# built from; when that still matches, nothing is installed, so a warm run takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

UV_VERSION=0.13.9
uv=.tools/uv/bin/uv
if [ ! -x "$uv" ] || [ "$("$uv" --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  # uv ships as a binary inside its PyPI wheel; pip puts it under .tools without touching any interpreter.
  rm -rf .tools/uv
  "$(find_python 3.11)" -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --target .tools/uv "uv==$UV_VERSION"
fi
# Bytecode is compiled at install: this machine sets PYTHONDONTWRITEBYTECODE, and importing DoWhy from
# source takes 15 s instead of 3.
export UV_CACHE_DIR="${UV_CACHE_DIR:-$HOME/.cache/uv}" UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1 UV_COMPILE_BYTECODE=1

# source_hash EXTRA_PATHS...: what an environment depends on: the lock, the project file, this script,
# and for a non-editable install the package sources it copied.
source_hash() {
  { sha256sum uv.lock pyproject.toml scripts/setup.sh
    if [ "$#" -gt 0 ]; then find "$@" -type f \( -name '*.py' -o -name '*.pyi' -o -name 'py.typed' \) -print0 \
      | sort -z | xargs -0 sha256sum; fi; } | sha256sum | awk '{print $1}'
}

# sync_env DIR PYTHON EDITABLE(yes|no) EXTRAS...
sync_env() {
  local dir="$1" python="$2" editable="$3"
  shift 3
  local stamp="$dir/.scmfit-source-hash" want extras=()
  if [ "$editable" = yes ]; then want="$(source_hash)"; else want="$(source_hash client)"; fi
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  for extra in "$@"; do extras+=(--extra "$extra"); done
  local flags=(--frozen --python "$python" "${extras[@]}")
  if [ "$editable" = no ]; then flags+=(--no-editable --reinstall-package scmfit); fi
  UV_PROJECT_ENVIRONMENT="$dir" "$uv" sync -q "${flags[@]}"
  if [ "$editable" = no ] && ! "$dir/bin/python" -c \
    'import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ("dowhy", "sklearn")))'; then
    echo "setup: dowhy or sklearn is importable in the client-only environment $dir" >&2
    exit 1
  fi
  echo "$want" >"$stamp"
}

sync_env .venv "$(find_python 3.11)" yes server cli web dev ray s3
sync_env .venv-client313 "$(find_python 3.13)" no cli test
# Python 3.12 too: the client supports 3.11 through 3.13.
sync_env .venv-client312 "$(find_python 3.12)" no cli test

echo "setup: .venv (3.11), .venv-client313 and .venv-client312 are up to date with uv.lock"
