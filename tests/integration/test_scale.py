"""Large traces go through UploadDataset by themselves; parallel node fits match a sequential fit."""

from __future__ import annotations

import numpy as np
import pytest

from scmfit.client import Client, FitStatus, NotFoundError
from scmfit.v1 import causal_model_service_pb2 as pb
from tests.conftest import fresh_seed
from tests.serverproc import ServerProcess


def chain(rows: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=rows)
    y = 2 * x + rng.normal(scale=0.1, size=rows)
    return {"X": x, "Y": y, "Z": np.sin(y) + rng.normal(scale=0.1, size=rows)}


def test_large_traces_are_uploaded_and_fit_like_inline_ones(server: ServerProcess) -> None:
    data = chain(200_000)  # about 4.8 MB inline, over the client's 3 MiB upload threshold
    graph = (["X", "Y", "Z"], [("X", "Y"), ("Y", "Z")])
    seed = fresh_seed()
    with Client(server.address, timeout=300) as client:
        uploaded = client.fit(graph, data, seed=seed)
    assert uploaded.status is FitStatus.SUCCESS
    assert uploaded.metadata.num_rows == 200_000
    assert uploaded.metadata.selection_rows == 10_000  # selection ran on a subsample of the 160,000 training rows
    assert "dataset ds-" in server.log()
    with Client(server.address, timeout=300, upload_threshold=10**9) as client:  # force the inline path
        inline = client.fit(graph, data, seed=seed)
    assert inline.model_id == uploaded.model_id and inline.reused


def test_unknown_dataset_id_is_not_found(client: Client) -> None:
    request = pb.FitModelRequest(graph=pb.Graph(nodes=["X"]), dataset_id="ds-" + "0" * 64)
    with pytest.raises(NotFoundError, match="ds-0000"):
        client.fit(request)


def test_deterministic_nodes_take_the_linear_screen(client: Client) -> None:
    x = np.arange(1, 201, dtype=np.int64)
    result = client.fit(
        (["x", "y", "z"], [("x", "y"), ("y", "z")]), {"x": x, "y": 2 * x, "z": 3 * x + 1}, seed=fresh_seed()
    )
    assert [node.selection for node in result.nodes] == ["root", "linear_screen", "linear_screen"]
    assert all(node.screening_r2 == pytest.approx(1.0) for node in result.nodes[1:])
    off = client.fit(
        (["x", "y", "z"], [("x", "y"), ("y", "z")]), {"x": x, "y": 2 * x, "z": 3 * x + 1}, linear_screening=False
    )
    assert [node.selection for node in off.nodes] == ["root", "model_zoo", "model_zoo"]
    assert off.raw.metadata.linear_screening is False


def test_parallel_fit_equals_the_sequential_pipeline(client: Client) -> None:
    pytest.importorskip("dowhy")
    from scmfit.server.config import Limits
    from scmfit.server.engine.worker import run_fit
    from scmfit.server.wire.decode import decode_fit_request
    from tests.conftest import fixture_case

    case = fixture_case("complex_dag")
    request = case.request(seed=fresh_seed(), quality="BETTER")
    remote = client.fit(request)
    local = run_fit(decode_fit_request(request, Limits()), lambda _: None)
    assert [node.r2 for node in remote.nodes] == [node.score.r2 for node in local.nodes]
    assert [node.mechanism.model_type for node in remote.nodes] == [node.mechanism.model_type for node in local.nodes]
