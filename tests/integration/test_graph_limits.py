"""Dense graphs against a real server: edge and parent limits, and tasks built only when a worker is free."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from scmfit.client import Client, FitProgress, InvalidRequestError, Stage, fit_request
from tests.integration.test_answer_limits import vm_mb
from tests.integration.test_lifecycle import wait_for
from tests.serverproc import start_server

pytestmark = pytest.mark.server_internals  # see pyproject.toml


def test_the_reviews_dense_graph_is_refused_at_the_door_and_a_dense_fit_copies_lazily() -> None:
    server = start_server("--metrics-port", "0", workers=1)
    try:
        with Client(server.address, timeout=120) as client:
            names = [f"v{i:03d}" for i in range(400)]
            dense = list(itertools.combinations(names, 2))  # 79,800 edges
            data = {name: np.zeros(10) for name in names}
            with pytest.raises(InvalidRequestError) as caught:
                client.fit((names, dense), data)
            assert caught.value.fields() == ["graph.edges"]
            assert "79800 edges exceed the server limit max_edges=20000" in caught.value.message
            star = [(name, "v399") for name in names[:150]]
            with pytest.raises(InvalidRequestError, match=r"'v399' has 150 parents, over .* max_parents=100"):
                client.fit((names, star), data)

            # 200 nodes with up to 99 parents each and 3000 rows: ~240 MB if every task copied its
            # parents' columns up front; built lazily, only the task a worker runs exists.
            rng = np.random.default_rng(0)
            names = [f"w{i:03d}" for i in range(200)]
            edges = [(names[j], names[i]) for i in range(1, 200) for j in range(max(0, i - 99), i)]
            columns = {name: rng.normal(size=3000) for name in names}
            request = fit_request(names, edges, columns)
            before = vm_mb(server.process.pid, "VmRSS")
            stream = client.fit_events(request)
            peak = before
            for event in stream:
                peak = max(peak, vm_mb(server.process.pid, "VmRSS"))
                if isinstance(event, FitProgress) and event.stage is Stage.FITTING and event.done >= 2:
                    break
            stream.close()
            assert wait_for(lambda: server.metric("scmfit_in_flight") == 0, timeout=60)
        time.sleep(0.5)
        print(f"main process RSS {before:.0f} MB -> peak {peak:.0f} MB during the dense fit")
        assert peak - before < 80, f"the main process grew {peak - before:.0f} MB"
    finally:
        assert server.terminate() == 0, server.log()
