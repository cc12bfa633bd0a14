"""Upload hardening against a real server: memory follows the data, admission, idle uploads, integrity."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from scmfit.client import Client, FitStatus
from scmfit.v1 import causal_model_service_pb2 as pb
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc
from tests.integration.test_lifecycle import wait_for
from tests.serverproc import ServerProcess, start_server

pytestmark = pytest.mark.server_internals  # see pyproject.toml

IDLE_SECONDS = 3


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    process = start_server(
        "--max-uploads", "1", "--upload-idle-seconds", str(IDLE_SECONDS), "--max-upload-cells", "130000000",
        workers=1,
    )  # fmt: skip
    yield process
    assert process.terminate() == 0, process.log()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def big_header(columns: int = 60, rows: int = 2_000_000) -> pb.UploadDatasetRequest:
    specs = [pb.ColumnSpec(name=f"c{i}", type=pb.COLUMN_TYPE_STRING) for i in range(columns)]
    return pb.UploadDatasetRequest(header=pb.DatasetHeader(columns=specs, num_rows=rows))


def double_chunk(offset: int, values: list[float]) -> pb.UploadDatasetRequest:
    return pb.UploadDatasetRequest(
        chunk=pb.ColumnChunk(column=0, offset=offset, doubles=pb.DoubleValues(values=values))
    )


def double_header(rows: int) -> pb.UploadDatasetRequest:
    spec = pb.ColumnSpec(name="x", type=pb.COLUMN_TYPE_DOUBLE)
    return pb.UploadDatasetRequest(header=pb.DatasetHeader(columns=[spec], num_rows=rows))


class HeldUpload:
    """An upload that sends its header and then holds the stream open until released."""

    def __init__(self, address: str, header: pb.UploadDatasetRequest) -> None:
        self.release = threading.Event()
        self.error: grpc.RpcError | None = None
        self._channel = grpc.insecure_channel(address, options=[("grpc.enable_retries", 0)])
        self._stub = pb_grpc.CausalModelServiceStub(self._channel)
        self._header = header
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _messages(self) -> Iterator[pb.UploadDatasetRequest]:
        yield self._header
        self.release.wait(60)

    def _run(self) -> None:
        try:
            self._stub.UploadDataset(self._messages(), timeout=60)
        except grpc.RpcError as error:
            self.error = error

    def finish(self) -> grpc.RpcError | None:
        self.release.set()
        self._thread.join(60)
        self._channel.close()
        return self.error


def test_a_header_alone_allocates_nothing_and_an_idle_upload_is_ended(server: ServerProcess) -> None:
    """The review's attack: 60 string columns x 2M rows declared in a 537-byte header, then silence."""
    before = rss_mb(server.process.pid)
    held = HeldUpload(server.address, big_header())
    time.sleep(1.5)
    grown = rss_mb(server.process.pid) - before
    assert grown < 50, f"RSS grew {grown:.0f} MB on a header alone"
    started = time.monotonic()
    assert wait_for(lambda: not held._thread.is_alive(), timeout=IDLE_SECONDS + 20)
    error: Any = held.finish()
    assert error is not None and error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert f"no upload message arrived for {IDLE_SECONDS}s" in error.details()
    assert time.monotonic() - started < IDLE_SECONDS + 15


def test_a_header_claiming_too_many_cells_is_refused_at_once(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.CausalModelServiceStub(channel).UploadDataset(iter([big_header(70)]), timeout=30)
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "max_upload_cells=130000000" in error.details()


def test_uploads_beyond_the_cap_get_resource_exhausted_with_retry_info(server: ServerProcess) -> None:
    held = HeldUpload(server.address, double_header(10))
    time.sleep(0.5)
    messages = iter([double_header(2), double_chunk(0, [1.0, 2.0])])
    try:
        with (
            grpc.insecure_channel(server.address, options=[("grpc.enable_retries", 0)]) as channel,
            pytest.raises(grpc.RpcError) as caught,
        ):
            pb_grpc.CausalModelServiceStub(channel).UploadDataset(messages, timeout=30)
    finally:
        held.finish()
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_uploads" in error.details()
    status = rpc_status.from_call(error)
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert any(detail.Unpack(retry) for detail in status.details)


def test_repeated_rows_are_refused_with_their_offsets(server: ServerProcess) -> None:
    """The review's attack: twenty chunks of rows 0-99 claimed as a 2000-row column."""
    messages = [double_header(2000)] + [double_chunk(0, [float(v) for v in range(100)]) for _ in range(20)]
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.CausalModelServiceStub(channel).UploadDataset(iter(messages), timeout=30)
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rows 0..100 of column 'x' overlap rows up to 100" in error.details()
    assert "messages[2].chunk.offset" in error.details()


def test_a_half_filled_string_column_is_refused_not_unknown(server: ServerProcess) -> None:
    spec = pb.ColumnSpec(name="s", type=pb.COLUMN_TYPE_STRING)
    messages = [
        pb.UploadDatasetRequest(header=pb.DatasetHeader(columns=[spec], num_rows=200)),
        pb.UploadDatasetRequest(chunk=pb.ColumnChunk(column=0, strings=pb.StringValues(values=["a", "b"] * 50))),
    ]
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.CausalModelServiceStub(channel).UploadDataset(iter(messages), timeout=30)
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "missing rows 100..200" in error.details()


def test_identical_uploads_get_one_content_addressed_id_and_fit_what_was_sent(server: ServerProcess) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    y = 3 * x + rng.normal(scale=0.1, size=400)
    dataset = pb.Dataset(
        columns=[
            pb.Column(name="X", doubles=pb.DoubleValues(values=x.tolist())),
            pb.Column(name="Y", doubles=pb.DoubleValues(values=y.tolist())),
        ]
    )
    with Client(server.address, timeout=120) as client:
        ids = {client.upload_dataset(dataset) for _ in range(3)}
        assert len(ids) == 1
        (dataset_id,) = ids
        request = pb.FitModelRequest(
            graph=pb.Graph(nodes=["X", "Y"], edges=[pb.Edge(source="X", target="Y")]),
            dataset_id=dataset_id,
        )
        result = client.fit(request)
    assert result.status is FitStatus.SUCCESS
    (y_node,) = [node for node in result.nodes if node.name == "Y"]
    assert abs(dict(y_node.mechanism.coefficients)["X"] - 3) < 0.05
