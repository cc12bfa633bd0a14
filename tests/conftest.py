from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from scmfit.client import Client
from scmfit.client._cases import Case, load_case
from tests.serverproc import REPO, ServerProcess, start_server

FIXTURES = REPO / "fixtures"
FIXTURE_NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))


@pytest.fixture(scope="session", autouse=True)
def _one_thread_for_in_process_fits() -> None:
    """Tests that fit in the pytest process pin DoWhy as the server's workers do: one job, one BLAS and
    OpenMP thread. Unpinned, DoWhy's n_jobs=-1 and OpenMP's spinning threads fought the other xdist
    worker and the servers for the 2 cores: a 2 s test took 200 s in the full suite."""
    if importlib.util.find_spec("dowhy") is None:  # the client-only suites
        return
    from scmfit.server.fitting.nodefit import pin_to_one_thread

    pin_to_one_thread()


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    """One real server for the session; its clean SIGTERM exit is itself checked at teardown."""
    process = start_server()
    yield process
    assert process.terminate() == 0, process.log()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    with Client(server.address, timeout=120.0) as connected:
        yield connected


def fixture_case(name: str) -> Case:
    return load_case(FIXTURES / f"{name}.json")


@pytest.fixture(params=FIXTURE_NAMES)
def case(request: pytest.FixtureRequest) -> Case:
    return fixture_case(str(request.param))


_seeds = itertools.count(10_000)


def fresh_seed() -> int:
    """A seed no other test used, so the fit really runs instead of coming from the model registry."""
    return next(_seeds)


def fixture_path(name: str) -> Path:
    return FIXTURES / f"{name}.json"
