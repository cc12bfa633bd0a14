#!/usr/bin/env bash
# Builds the image with buildah from a local debootstrap base (no registry is reachable), runs it
# with podman, waits for gRPC health, fits linear_chain through it from the host's client, sends
# SIGTERM and checks a clean exit within the grace period. Fails loudly, with the reason, if the
# container tools cannot run here.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
work="$repo/.ci/out/container"
mkdir -p "$work"
fail() { echo "container test FAILED: $*" >&2; exit 1; }

if ! command -v buildah >/dev/null || ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
  [ "$(id -u)" = 0 ] || fail "podman, buildah, runc and debootstrap are missing and this is not root"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc debootstrap >/dev/null
fi

# Storage and runtime under this run's folder; ulimits this machine allows.
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "host"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
log_driver = "k8s-file"
CONF
cat >"$work/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$work/storage"
runroot = "$work/run"
CONF
export CONTAINERS_CONF="$work/containers.conf" CONTAINERS_STORAGE_CONF="$work/storage.conf"

# A bookworm base (Python 3.11, as the server targets), from the same Debian mirror apt uses here.
base=localhost/scmfit-base:bookworm
if ! podman image exists "$base"; then
  mirror="$(grep -h -m1 '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' || true)"
  [ -n "$mirror" ] || mirror="$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  [ -n "$mirror" ] || fail "no Debian mirror configured for apt"
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$work/rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$work/rootfs" -c . | podman import - "$base" >/dev/null || fail "podman import"
  rm -rf "$work/rootfs"
fi

secret=()
if [ -n "${PIP_CERT:-}" ] && [ -s "$PIP_CERT" ]; then secret=(--secret "id=ca-bundle,src=$PIP_CERT"); fi
started=$(date +%s)
buildah bud --isolation chroot --network host --layers=false --build-arg "BASE_IMAGE=$base" "${secret[@]}" \
  -t localhost/scmfit:test "$repo" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "buildah bud"; }
echo "built in $(( $(date +%s) - started ))s; image size: $(podman image inspect localhost/scmfit:test --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
name="scmfit-test-$$"
podman run -d --name "$name" --network host -e "SCMFIT_ADDRESS=127.0.0.1:$port" -e SCMFIT_WORKERS=1 \
  -e SCMFIT_GRACE=5 localhost/scmfit:test >/dev/null || fail "podman run"
cleanup() { podman rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
for _ in $(seq 1 300); do
  [ "$(.venv/bin/scmfit health --address "127.0.0.1:$port" 2>/dev/null)" = SERVING ] && break
  sleep 0.5
done
[ "$(.venv/bin/scmfit health --address "127.0.0.1:$port")" = SERVING ] || { podman logs "$name" | tail -20; fail "health"; }
[ "$(podman exec "$name" id -u)" != 0 ] || fail "the container runs as root"
.venv/bin/scmfit fit --case fixtures/linear_chain.json --address "127.0.0.1:$port" --json >"$work/fit.json" \
  || fail "fit through the container"
grep -q '"status": "FIT_STATUS_SUCCESS"' "$work/fit.json" || fail "linear_chain did not succeed"
stop_started=$(date +%s)
podman stop --time 20 "$name" >/dev/null
code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
elapsed=$(( $(date +%s) - stop_started ))
[ "$code" = 0 ] || { podman logs "$name" | tail -20; fail "exit code $code after SIGTERM"; }
[ "$elapsed" -lt 20 ] || fail "SIGTERM took ${elapsed}s; podman had to SIGKILL"
# conmon may still be writing the log when podman stop returns: read it again for a few seconds.
for _ in $(seq 1 20); do
  podman logs "$name" >"$work/container.log" 2>&1 || true
  grep -q "received SIGTERM" "$work/container.log" && break
  sleep 0.5
done
grep -q "received SIGTERM" "$work/container.log" || { tail -30 "$work/container.log"; fail "no SIGTERM handling in the log"; }
echo "container: healthy, fitted linear_chain, exited 0 ${elapsed}s after SIGTERM"
