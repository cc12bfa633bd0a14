"""Where a Ray cluster's head is, and whether it answers: used by the server and by the Ray driver alike."""

from __future__ import annotations

import socket


def gcs_endpoint(address: str) -> tuple[str, int]:
    """HOST:PORT of the cluster's GCS, as `ray start --head` prints it; ValueError otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"--ray-address must be HOST:PORT of the head node's GCS, got {address!r}")
    return host, int(port)


def unreachable(address: str, timeout: float = 5.0) -> str | None:
    """None when the GCS port accepts a connection, else why not."""
    try:
        with socket.create_connection(gcs_endpoint(address), timeout=timeout):
            return None
    except OSError as error:
        return str(error) or type(error).__name__
