"""Hostile FitModelRequests from hypothesis, sent to a real server.

Every answer must be a result, or INVALID_ARGUMENT with field violations, or FAILED_PRECONDITION;
never INTERNAL or UNKNOWN; and the server must stay SERVING. CI runs 200 examples; set
SCMFIT_FUZZ_EXAMPLES=5000 for a longer run.
"""

from __future__ import annotations

import os
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scmfit.client import Client
from scmfit.v1 import causal_model_service_pb2 as pb
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc
from tests.serverproc import ServerProcess

EXAMPLES = int(os.environ.get("SCMFIT_FUZZ_EXAMPLES", "200"))
INT64 = (-(2**63), 2**63 - 1)

names = st.one_of(
    st.sampled_from(["A", "B", "C", "D", "x", "y"]),
    st.sampled_from(["", "变量", "ñandú", "🙂", "a b", "line\nbreak", "N" * 10_000]),
    st.text(min_size=0, max_size=8),
)
doubles = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0]),
    st.floats(min_value=-1e3, max_value=1e3),
)
int64s = st.one_of(st.integers(*INT64), st.sampled_from(list(INT64)), st.integers(-100, 100))
strings = st.one_of(st.sampled_from(["", "a", "b"]), st.text(max_size=5))


@st.composite
def column(draw: st.DrawFn, name: str, rows: int) -> pb.Column:
    length = max(0, rows + draw(st.sampled_from([0, 0, 0, 0, -1, 1])))  # sometimes ragged
    kind = draw(st.sampled_from(["doubles", "int64s", "bools", "strings", "unset"]))
    if kind == "doubles":
        return pb.Column(
            name=name, doubles=pb.DoubleValues(values=draw(st.lists(doubles, min_size=length, max_size=length)))
        )
    if kind == "int64s":
        return pb.Column(
            name=name, int64s=pb.Int64Values(values=draw(st.lists(int64s, min_size=length, max_size=length)))
        )
    if kind == "bools":
        return pb.Column(
            name=name, bools=pb.BoolValues(values=draw(st.lists(st.booleans(), min_size=length, max_size=length)))
        )
    if kind == "strings":
        one_class = draw(st.booleans())
        values = [draw(strings)] * length if one_class else draw(st.lists(strings, min_size=length, max_size=length))
        return pb.Column(name=name, strings=pb.StringValues(values=values))
    return pb.Column(name=name)


@st.composite
def plausible(draw: st.DrawFn) -> pb.FitModelRequest:
    """Well-formed graphs with odd names, odd but finite values, and every column type: most must fit."""
    nodes = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    edges = [
        (nodes[i], nodes[j]) for j in range(len(nodes)) for i in range(j) if draw(st.booleans())
    ]  # forward edges only: a DAG
    rows = draw(st.integers(7, 40))
    finite = st.one_of(st.floats(min_value=-1e6, max_value=1e6), st.sampled_from([0.0, 1e-300, -1e40, 1e40]))
    columns = []
    for name in nodes:
        kind = draw(st.sampled_from(["doubles", "doubles", "int64s", "bools", "strings"]))
        if kind == "doubles":
            numbers = draw(st.lists(finite, min_size=rows, max_size=rows))
            columns.append(pb.Column(name=name, doubles=pb.DoubleValues(values=numbers)))
        elif kind == "int64s":
            integers = draw(st.lists(int64s, min_size=rows, max_size=rows))
            columns.append(pb.Column(name=name, int64s=pb.Int64Values(values=integers)))
        elif kind == "bools":
            flags = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
            columns.append(pb.Column(name=name, bools=pb.BoolValues(values=flags)))
        else:
            labels = draw(st.lists(strings, min_size=rows, max_size=rows))
            columns.append(pb.Column(name=name, strings=pb.StringValues(values=labels)))
    return pb.FitModelRequest(
        graph=pb.Graph(nodes=nodes, edges=[pb.Edge(source=s, target=t) for s, t in edges]),
        dataset=pb.Dataset(columns=draw(st.permutations(columns))),
        config=pb.FitConfig(quality=draw(st.sampled_from([1, 1, 1, 2])), seed=draw(st.integers(0, 2**32 - 1))),  # type: ignore[arg-type]
    )


@st.composite
def hostile(draw: st.DrawFn) -> pb.FitModelRequest:
    nodes = draw(st.lists(names, min_size=0, max_size=5))
    pool = nodes + draw(st.lists(names, max_size=2))  # edges may name unknown nodes
    edges = draw(st.lists(st.tuples(st.sampled_from(pool), st.sampled_from(pool)), max_size=6)) if pool else []
    rows = draw(st.sampled_from([0, 1, 4, 7, 12, 30]))
    column_names = nodes + draw(st.lists(names, max_size=1))
    drop_one = draw(st.booleans())
    if nodes and drop_one:
        column_names.remove(draw(st.sampled_from(nodes)))  # sometimes a node lacks its column
    columns = [draw(column(name, rows)) for name in column_names]
    config = pb.FitConfig(
        quality=draw(st.sampled_from([0, 1, 1, 1, 2, 3, 7])),  # type: ignore[arg-type]
        r2_threshold=draw(st.one_of(st.none(), st.floats(allow_nan=True), st.sampled_from([0.0, 0.7, 1.0]))),
        validate_r2=draw(st.one_of(st.none(), st.booleans())),
        test_fraction=draw(st.one_of(st.none(), st.floats(allow_nan=True), st.sampled_from([0.2, 0.5, 0.0, 1.0]))),
        seed=draw(st.one_of(st.none(), st.integers(0, 2**64 - 1))),
        min_samples=draw(st.one_of(st.none(), st.integers(0, 2**32 - 1))),
    )
    return pb.FitModelRequest(
        graph=pb.Graph(nodes=nodes, edges=[pb.Edge(source=s, target=t) for s, t in edges]),
        dataset=pb.Dataset(columns=columns),
        config=config,
    )


requests = st.one_of(plausible(), hostile())


@pytest.fixture(scope="module")
def stub(server: ServerProcess) -> Any:
    channel = grpc.insecure_channel(server.address, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
    yield pb_grpc.CausalModelServiceStub(channel)
    channel.close()


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(request=requests)
def test_hostile_requests_get_a_result_or_a_precise_error(
    stub: Any, server: ServerProcess, request: pb.FitModelRequest
) -> None:
    try:
        responses = list(stub.FitModel(request, timeout=120))
    except grpc.RpcError as error:
        call: Any = error
        code = call.code()
        assert code in {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION}, (code, call.details())
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            status = rpc_status.from_call(call)
            assert status is not None
            bad_request = error_details_pb2.BadRequest()
            assert any(detail.Unpack(bad_request) for detail in status.details)
            assert bad_request.field_violations and all(v.field for v in bad_request.field_violations)
        event(f"refused: {code.name}")
        return
    event("fitted")
    assert responses and responses[-1].HasField("result")
    assert sum(r.HasField("result") for r in responses) == 1
    result = responses[-1].result
    assert result.status != pb.FIT_STATUS_UNSPECIFIED
    assert [node.name for node in result.nodes] == list(request.graph.nodes)


def test_the_server_is_still_serving_after_the_fuzzing(server: ServerProcess) -> None:
    with Client(server.address, timeout=10) as client:
        assert client.health() == "SERVING"
