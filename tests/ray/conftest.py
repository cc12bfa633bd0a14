"""The Ray tests' cluster and servers (tests/raycluster.py starts the cluster).

These tests must run inside a network namespace where loopback is the only interface
(`scripts/ray_test.sh` makes one with `unshare -n`): test traffic must never leave loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.raycluster import RayCluster, only_loopback, start_cluster
from tests.serverproc import ServerProcess, start_server


@pytest.fixture(scope="session")
def cluster() -> Iterator[RayCluster]:
    if not only_loopback():
        pytest.fail("tests/ray must run in a network namespace with loopback only: run `bash scripts/ray_test.sh`")
    started = start_cluster()
    yield started
    started.stop()


def start_ray_server(cluster: RayCluster, *extra: str) -> ServerProcess:
    return start_server("--executor", "ray", "--ray-address", cluster.address, *extra, workers=1, ready_timeout=180)


@pytest.fixture(scope="session")
def ray_server(cluster: RayCluster) -> Iterator[ServerProcess]:
    process = start_ray_server(cluster)
    yield process
    assert process.terminate() == 0, process.log()


@pytest.fixture(scope="session")
def local_server() -> Iterator[ServerProcess]:
    process = start_server(workers=2)
    yield process
    assert process.terminate() == 0, process.log()
