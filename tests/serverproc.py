"""Starts the real server as a subprocess on a port the OS picks, and stops it with SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from scmfit.client import Client, ScmfitError

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port free now, for servers that cannot take port 0 (moto, Ray, the web bridge)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_python() -> str:
    """The interpreter that has the server extra; the 3.13 client suite points this at the 3.11 venv."""
    return os.environ.get("SCMFIT_SERVER_PYTHON", sys.executable)


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics_url(self) -> str:
        match = re.search(r"metrics on ([\d.]+):(\d+)", self.log())
        if match is None:
            raise RuntimeError("the server was not started with --metrics-port")
        return f"http://{match.group(1)}:{match.group(2)}/metrics"

    def metric(self, name: str, **labels: str) -> float:
        """One sample from the Prometheus endpoint; 0 when the series does not exist yet."""
        text = urllib.request.urlopen(self.metrics_url(), timeout=5).read().decode()
        wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        series = f"{name}{{{wanted}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return 0.0

    def terminate(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the server ignored SIGTERM for {timeout}s; its log:\n{self.log()}") from None


def start_server(
    *extra: str,
    workers: int = 2,
    ready_timeout: float = 120.0,
    client_kwargs: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    directory = Path(tempfile.mkdtemp(prefix="scmfit-test-"))
    port_file = directory / "port"
    log_path = directory / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                server_python(),
                "-m",
                "scmfit.server",
                "--address",
                "127.0.0.1:0",
                "--port-file",
                str(port_file),
                "--workers",
                str(workers),
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + ready_timeout
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    server = ServerProcess(process, int(port_file.read_text()), log_path)
    wait_serving(server.address, deadline, client_kwargs or {})
    return server


def wait_serving(address: str, deadline: float, client_kwargs: dict[str, Any]) -> None:
    with Client(address, timeout=2.0, **client_kwargs) as client:
        while True:
            try:
                if client.health() == "SERVING":
                    return
            except (ScmfitError, grpc.RpcError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server at {address} never became SERVING")
            time.sleep(0.2)
