# Shared helpers for the scripts; sourced, not run.

# find_python 3.11 -> path of a working python3.11 (pyenv's versions first, then PATH).
find_python() {
  local version="$1" candidate root
  root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
  for candidate in "$root"/versions/"$version".*/bin/python"$version" "$(command -v "python$version" || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  echo "python$version not found (pyenv install $version)" >&2
  return 1
}

# start_server WORKDIR [serve flags...]: runs `scmfit serve` on a free loopback port in the
# background, waits until health says SERVING, and sets $address and $server (the pid).
# The caller's EXIT trap should `kill -TERM $server; wait $server`.
start_server() {
  local work="$1"
  shift
  .venv/bin/scmfit serve --address 127.0.0.1:0 --port-file "$work/port" "$@" >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 600); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || { cat "$work/server.log" >&2; echo "the server did not start" >&2; return 1; }
  address="127.0.0.1:$(cat "$work/port")"
  for _ in $(seq 1 600); do
    [ "$(.venv/bin/scmfit health --address "$address" 2>/dev/null)" = SERVING ] && return 0
    sleep 0.2
  done
  echo "the server at $address never became SERVING" >&2
  return 1
}
