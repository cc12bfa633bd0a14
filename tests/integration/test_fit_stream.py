"""The shape of the FitModel stream: progress per node and stage, then exactly one result."""

from __future__ import annotations

import pytest

from scmfit.client import Client
from scmfit.v1 import causal_model_service_pb2 as pb
from tests.conftest import fixture_case


def test_stream_reports_each_node_through_each_stage_then_one_result(client: Client) -> None:
    case = fixture_case("complex_dag")
    responses = list(client.fit_events(case.request()))
    assert [r.WhichOneof("event") for r in responses].count("result") == 1
    assert responses[-1].HasField("result")
    progress = [r.progress for r in responses[:-1]]
    assert progress[0].stage == pb.STAGE_VALIDATING
    per_node = [(p.node, p.stage) for p in progress[1:]]
    stages = [pb.STAGE_ASSIGNING, pb.STAGE_FITTING, pb.STAGE_EVALUATING]
    assert sorted(per_node) == sorted((node, stage) for node in case.nodes for stage in stages)
    # Parents are always fitted before their children.
    first_seen = {node: i for i, (node, _) in reversed(list(enumerate(per_node)))}
    for source, target in case.edges:
        assert first_seen[source] < first_seen[target]
    assert all(p.total == len(case.nodes) for p in progress[1:])
    assert [p.done for p in progress[1:]] == [i // 3 for i in range(3 * len(case.nodes))]
    elapsed = [p.elapsed.ToNanoseconds() for p in progress]
    assert elapsed == sorted(elapsed)


def test_result_metadata_names_versions_quality_and_stage_times(client: Client) -> None:
    result = client.fit_proto(fixture_case("linear_chain").request(seed=7, test_fraction=0.25))
    meta = result.metadata
    info = client.server_info()
    assert meta.dowhy_version == info.dowhy_version == "0.14"
    assert meta.quality == pb.QUALITY_GOOD
    assert (meta.num_rows, meta.num_train, meta.num_test) == (1000, 750, 250)
    assert meta.seed == 7
    assert meta.test_fraction == pytest.approx(0.25)
    assert {t.stage for t in meta.stage_timings} == {
        pb.STAGE_VALIDATING,
        pb.STAGE_ASSIGNING,
        pb.STAGE_FITTING,
        pb.STAGE_EVALUATING,
    }
    assert meta.total_time.ToNanoseconds() > 0


def test_same_request_gives_same_id_and_result_and_config_changes_the_id(client: Client) -> None:
    case = fixture_case("multi_parent")
    first = client.fit_proto(case.request())
    second = client.fit_proto(case.request())
    assert first.model_id == second.model_id
    assert [n.r2 for n in first.nodes] == [n.r2 for n in second.nodes]
    other = client.fit_proto(case.request(seed=43))
    assert other.model_id != first.model_id


def test_validation_can_be_switched_off(client: Client) -> None:
    result = client.fit_proto(fixture_case("noisy_data").request(validate_r2=False))
    assert result.status == pb.FIT_STATUS_SUCCESS
    assert not result.validation.enforced
    assert not result.validation.passed
    assert list(result.validation.failed_nodes) == ["Y"]


def test_threshold_decides_between_success_and_validation_failed(client: Client) -> None:
    case = fixture_case("noisy_data")
    assert client.fit_proto(case.request(r2_threshold=0.1)).status == pb.FIT_STATUS_SUCCESS
    assert client.fit_proto(case.request(r2_threshold=0.2)).status == pb.FIT_STATUS_VALIDATION_FAILED
