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
