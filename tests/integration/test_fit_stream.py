"""The shape of the FitModel stream: progress per node and stage, then exactly one result."""

from __future__ import annotations

import pytest

from scmfit.client import Client, FitProgress, FitResult, FitStatus, Stage
from scmfit.v1 import causal_model_service_pb2 as pb
from tests.conftest import fixture_case, fresh_seed


def test_stream_reports_each_node_through_each_stage_then_one_result(client: Client) -> None:
    case = fixture_case("complex_dag")
    events = list(client.fit_events(case.request(seed=fresh_seed())))
    assert [isinstance(e, FitResult) for e in events].count(True) == 1
    assert isinstance(events[-1], FitResult)
    progress = [e.raw for e in events[:-1] if isinstance(e, FitProgress)]
    assert len(progress) == len(events) - 1
    assert progress[0].stage == pb.STAGE_VALIDATING
    per_node = [(p.node, p.stage) for p in progress[1:]]
    stages = [pb.STAGE_ASSIGNING, pb.STAGE_FITTING, pb.STAGE_EVALUATING]
    assert sorted(per_node) == sorted((node, stage) for node in case.nodes for stage in stages)
    # Nodes run in parallel on the workers, but each node moves through the stages in order.
    for node in case.nodes:
        assert [stage for name, stage in per_node if name == node] == stages
    # Tasks are submitted in topological order, and at most `workers` (2) run at once, so the root A is
    # among the first two to report, whichever worker process reports first.
    assert ("A", pb.STAGE_ASSIGNING) in per_node[:2]
    assert all(p.total == len(case.nodes) and 0 <= p.done < p.total for p in progress[1:])
    for stage in stages:
        done = [p.done for p in progress[1:] if p.stage == stage]
        assert done == sorted(done) and done[0] == 0
    elapsed = [p.elapsed.ToNanoseconds() for p in progress]
    assert elapsed == sorted(elapsed)


def test_typed_events_and_on_progress_see_the_same_sequence(client: Client) -> None:
    case = fixture_case("linear_chain")
    events = list(client.fit_events(case.graph, case.traces, seed=fresh_seed()))
    assert isinstance(events[-1], FitResult)
    progress = [e for e in events if isinstance(e, FitProgress)]
    assert len(progress) == len(events) - 1
    assert progress[0].stage is Stage.VALIDATING
    assert [p.stage for p in progress if p.node == "X"] == [Stage.ASSIGNING, Stage.FITTING, Stage.EVALUATING]
    seen: list[FitProgress] = []
    result = client.fit(case.graph, case.traces, seed=fresh_seed(), on_progress=seen.append)
    # Parallel workers may interleave nodes differently from one fit to the next; the events are the same.
    assert sorted((p.stage, p.node) for p in seen) == sorted((p.stage, p.node) for p in progress)
    assert result.raw.model_id == result.model_id


def test_result_metadata_names_versions_quality_and_stage_times(client: Client) -> None:
    case = fixture_case("linear_chain")
    result = client.fit(case.graph, case.traces, seed=7, test_fraction=0.25)
    meta = result.metadata
    info = client.server_info()
    assert meta.dowhy_version == info.dowhy_version == "0.14"
    assert meta.quality == "GOOD"
    assert (meta.num_rows, meta.num_train, meta.num_test) == (1000, 750, 250)
    assert (meta.refit_on_all_rows, meta.num_model_rows) == (True, 1000)  # the default: queries see every row
    split_only = client.fit(case.graph, case.traces, seed=7, test_fraction=0.25, refit_on_all_rows=False)
    assert (split_only.metadata.refit_on_all_rows, split_only.metadata.num_model_rows) == (False, 750)
    assert split_only.model_id != result.model_id
    assert [n.r2 for n in split_only.nodes] == [n.r2 for n in result.nodes]  # scored by the same split model
    assert meta.seed == 7
    assert meta.test_fraction == pytest.approx(0.25)
    assert set(meta.stage_seconds) == set(Stage)
    assert meta.total_seconds > 0


def test_same_request_gives_same_id_and_result_and_config_changes_the_id(client: Client) -> None:
    case = fixture_case("multi_parent")
    seed = fresh_seed()
    first = client.fit(case.graph, case.traces, seed=seed)
    second = client.fit(case.graph, case.traces, seed=seed)
    assert first.model_id == second.model_id
    assert not first.reused
    assert second.reused  # served from the registry, not refitted
    assert [n.r2 for n in first.nodes] == [n.r2 for n in second.nodes]
    assert second.metadata == first.metadata
    other = client.fit(case.graph, case.traces, seed=fresh_seed())
    assert other.model_id != first.model_id
    assert not other.reused


def test_validation_can_be_switched_off(client: Client) -> None:
    case = fixture_case("noisy_data")
    result = client.fit(case.graph, case.traces, validate_r2=False)
    assert result.status is FitStatus.SUCCESS
    assert not result.validation.enforced
    assert not result.validation.passed
    assert result.validation.failed_nodes == ("Y",)


def test_threshold_decides_between_success_and_validation_failed(client: Client) -> None:
    case = fixture_case("noisy_data")
    assert client.fit(case.graph, case.traces, r2_threshold=0.1).status is FitStatus.SUCCESS
    assert client.fit(case.graph, case.traces, r2_threshold=0.2).status is FitStatus.VALIDATION_FAILED
