"""A real Ray cluster on loopback for tests and benchmarks: a head node and a worker node, started by
`ray start --block` and stopped by those processes' pids (never a bare `ray stop`, which would stop
every Ray process on the machine).

Ray rewrites 127.0.0.1 to the machine's interface address, so a cluster starts only inside a network
namespace where loopback is the only interface (`unshare -n`, see scripts/ray_test.sh).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.serverproc import free_port, server_python

RAY = str(Path(server_python()).with_name("ray"))
STARTED = "Ray runtime started"


def only_loopback() -> bool:
    """This process's network namespace (not /sys, which shows the namespace it was mounted in)."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@dataclass
class RayCluster:
    """A head node and a worker node, each a `ray start --block` process we started."""

    address: str
    directory: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_node(self, *flags: str, timeout: float = 90.0) -> subprocess.Popen[bytes]:
        log = self.directory / f"node{len(self.processes)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [RAY, "start", "--block", "--num-cpus", "1", "--disable-usage-stats", *flags],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
                start_new_session=True,
            )
        self.processes.append(process)
        deadline = time.monotonic() + timeout
        while STARTED not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ray start failed:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        return process

    @property
    def head(self) -> subprocess.Popen[bytes]:
        return self.processes[0]

    def task_processes(self, function: str = "_run_node") -> list[psutil.Process]:
        """Ray workers running `function` now (Ray titles a busy worker `ray::<function>`)."""
        found = []
        for process in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if cmdline.startswith(f"ray::{function}"):
                found.append(process)
        return found

    def stop(self) -> None:
        """SIGTERM to each `--block` process stops what it started; never a bare `ray stop`."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def start_cluster(port: int | None = None) -> RayCluster:
    if not only_loopback():
        raise RuntimeError(
            "a test Ray cluster runs only in a network namespace with loopback only (Ray would use the "
            "machine's interface address): run through `unshare -n`, as scripts/ray_test.sh does"
        )
    port = port or free_port()
    cluster = RayCluster(f"127.0.0.1:{port}", Path(tempfile.mkdtemp(prefix="rt", dir="/tmp")))
    cluster.start_node(
        "--head",
        "--port",
        str(port),
        "--node-ip-address",
        "127.0.0.1",
        "--include-dashboard=false",
        "--temp-dir",
        str(cluster.directory / "ray"),
    )
    cluster.start_node("--address", cluster.address, "--node-ip-address", "127.0.0.1")
    return cluster
