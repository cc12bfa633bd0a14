"""The proto is the schema: every field of every message the server builds is mapped from a domain
field of the same name, or from a named derivation, or sits in a short named exclusion list; and every
domain field travels or is named as internal. A field added on one side only fails here."""

from __future__ import annotations

import dataclasses
import re
import typing
from enum import Enum
from pathlib import Path

import numpy as np
import pytest
from google.protobuf.message import Message

from scmfit.server.domain.fit import (
    Candidate,
    CandidateOutcome,
    ColumnType,
    FitOutcome,
    FitStatus,
    MechanismKind,
    MechanismSummary,
    NodeResult,
    NodeScore,
    Progress,
    QualityStep,
    R2Omission,
    SelectionPath,
    Stage,
    ValidationSummary,
)
from scmfit.server.domain.query import QUERY_KINDS, CategoryShare, Interval, NodeStatistics, SampleOutcome
from scmfit.server.domain.settings import FitSettings, MissingValues, Quality, Selection
from scmfit.server.wire import encode
from scmfit.v1 import causal_model_service_pb2 as pb

REPO = Path(__file__).resolve().parents[3]

NODE = NodeResult(
    name="Y",
    parents=("X",),
    mechanism=MechanismSummary(MechanismKind.ADDITIVE_NOISE, "LinearRegression", (("X", 2.0),), 1.0),
    score=NodeScore(0.9, R2Omission.TOO_FEW_TEST_ROWS, mse=0.1, accuracy=0.5),
    selection=SelectionPath.LINEAR_SCREEN,
    screening_r2=0.99,
    candidates=(Candidate("LinearRegression", 5, 0.1, CandidateOutcome.CHOSEN, 1),),
    selection_metric="mse",
    selection_note="cheaper",
    num_train_rows=80,
    num_test_rows=20,
    quality=Quality.BETTER,
    quality_steps=(QualityStep(Quality.GOOD, 0.6), QualityStep(Quality.BETTER, 0.9)),
    categories=("a", "b"),
    column_type=ColumnType.STRING,
)
OUTCOME = FitOutcome(
    status=FitStatus.SUCCESS,
    message="ok",
    nodes=(NODE,),
    validation=ValidationSummary(0.9, 0.7, True, ("Z",), True),
    num_train=80,
    num_test=20,
    stage_seconds={Stage.FITTING: 1.0},
    dowhy_version="0.14",
    sklearn_version="1.6",
    model_blob=b"blob",
    selection_rows=80,
    refitted=True,
    escalated_nodes=("Y",),
)
SETTINGS = FitSettings(
    quality=Quality.BETTER,
    seed=7,
    test_fraction=0.25,
    linear_screening=True,
    screening_r2=0.95,
    selection=Selection.EXHAUSTIVE,
    selection_confidence=0.9,
    missing_values=MissingValues.PER_NODE,
    escalate_quality=True,
)

NOT_FROM_THE_FIT = {"FitResult": {"reused"}}
"""Fields the servicer sets later: `reused` only when a stored model answers a repeated fit."""
INTERNAL = {
    "FitOutcome": {"model_blob", "stage_seconds", "refitted"},  # the registry's; stage_timings; refit_on_all_rows
    "NodeResult": {"score"},  # travels flattened: r2, r2_omission, mse, accuracy
    "FitSettings": {"r2_threshold", "validate_r2", "min_samples"},  # travel in Validation; min_samples decides status
}


def all_fields(message: Message) -> set[str]:
    return {field.name for field, _ in message.ListFields()}


def unset(message: Message, exclusions: set[str]) -> set[str]:
    return {f.name for f in message.DESCRIPTOR.fields} - all_fields(message) - exclusions


def test_every_field_of_a_fit_result_is_filled_from_the_domain() -> None:
    result = encode.result_response(
        OUTCOME, model_id="m", num_rows=100, settings=SETTINGS, validating_seconds=0.1, total_seconds=2.0
    ).result
    assert unset(result, NOT_FROM_THE_FIT["FitResult"]) == set()
    assert unset(result.metadata, set()) == set()
    assert unset(result.validation, set()) == set()
    node = result.nodes[0]
    assert unset(node, set()) == set()
    assert unset(node.mechanism, set()) == set()
    assert unset(node.candidates[0], set()) == set()
    assert result.metadata.quality == pb.QUALITY_BETTER and result.metadata.selection == pb.SELECTION_EXHAUSTIVE
    assert result.metadata.selection_confidence == pytest.approx(0.9) and result.metadata.screening_r2 == 0.95
    assert (node.r2, node.mse, node.accuracy) == (0.9, 0.1, 0.5)
    assert node.candidates[0].outcome == pb.CANDIDATE_OUTCOME_CHOSEN


@pytest.mark.parametrize(
    ("domain", "message", "also"),
    [
        (FitOutcome, pb.FitResult, (pb.FitMetadata,)),
        (NodeResult, pb.NodeResult, ()),
        (MechanismSummary, pb.Mechanism, ()),
        (Candidate, pb.Candidate, ()),
        (ValidationSummary, pb.Validation, ()),
        (FitSettings, pb.FitMetadata, ()),
        (Progress, pb.FitProgress, ()),
        (NodeStatistics, pb.NodeStatistics, ()),
        (CategoryShare, pb.CategoryShare, ()),
    ],
)
def test_every_domain_field_travels_or_is_named_internal(
    domain: type, message: type[Message], also: tuple[type[Message], ...]
) -> None:
    wire = {f.name for m in (message, *also) for f in m.DESCRIPTOR.fields}
    fields = {f.name for f in dataclasses.fields(domain)}
    silent = fields - wire - INTERNAL.get(domain.__name__, set())
    assert silent == set(), f"{domain.__name__} fields that never reach {message.DESCRIPTOR.name}"


def test_a_progress_event_and_a_sample_answer_fill_every_field() -> None:
    progress = encode.progress_response(Progress(Stage.FITTING, "X", 1, 3), 0.5).progress
    assert unset(progress, set()) == set()
    statistics = NodeStatistics(
        "S", 1.0, 2.0, 3.0, 4.0, 5.0, 0.5, 9.0, (CategoryShare("a", 1.0),), Interval(0.5, 1.5, 0.95, 100)
    )
    outcome = SampleOutcome((statistics,), {"S": np.array(["a"], dtype=object)}, 1)
    response = encode.answer_response(pb.SampleModelResponse, outcome, {"S": ColumnType.STRING}, 0.25)
    assert unset(response, set()) == set()
    assert unset(response.statistics[0], set()) == set()
    assert response.duration.ToNanoseconds() == 250_000_000


@pytest.mark.parametrize("rpc", sorted(QUERY_KINDS))
def test_each_query_type_is_named_as_its_request_and_its_answer_as_its_response(rpc: str) -> None:
    kind = QUERY_KINDS[rpc]
    request = {f.name for f in getattr(pb, f"{rpc}Request").DESCRIPTOR.fields}
    assert {f.name for f in dataclasses.fields(kind.query)} == request
    method = pb.DESCRIPTOR.services_by_name["CausalModelService"].methods_by_name[rpc]
    assert method.input_type.name == f"{rpc}Request" and method.output_type.name == f"{rpc}Response"
    if kind.oversize_field:
        assert kind.oversize_field in request


def test_every_query_rpc_has_an_answer_and_an_outcome_named_as_its_response() -> None:
    from scmfit.server.fitting.answers import load_families

    answers = load_families()
    for rpc, kind in QUERY_KINDS.items():
        assert kind.query in answers, f"{rpc} has no registered answer in fitting/questions/"
        outcome = typing.get_type_hints(answers[kind.query])["return"]
        response = {f.name for f in getattr(pb, f"{rpc}Response").DESCRIPTOR.fields} - {"duration"}
        assert {f.name for f in dataclasses.fields(outcome)} == response, rpc


def test_the_proto_comments_state_the_server_defaults() -> None:
    """Defaults are stated once: FitSettings holds them, and the proto's comment on each field says the same."""
    proto = (REPO / "proto/scmfit/v1/causal_model_service.proto").read_text()
    config = proto[proto.index("message FitConfig {") :]
    config = config[: config.index("}")]
    documented = dict(
        (name, text)
        for text, name in re.findall(
            r"//[^\n]*?(?:default|unset means) ([\w.]+)[^\n]*\n\s*(?:optional )?\w+ (\w+) =", config
        )
    )
    defaults = FitSettings()
    assert set(documented) == {f.name for f in dataclasses.fields(FitSettings)}
    for name, text in documented.items():
        value = getattr(defaults, name)
        if isinstance(value, bool):
            assert text.rstrip(".") == str(value).lower(), name
        elif isinstance(value, Enum):
            assert text.rstrip(".").endswith(value.name), name
        else:
            assert float(text.rstrip(".")) == value, name


@pytest.mark.parametrize("rpc", sorted(QUERY_KINDS))
def test_a_query_default_is_stated_once_in_the_domain_and_the_proto_says_the_same(rpc: str) -> None:
    from scmfit.server.domain.query import SampleCount

    proto = (REPO / "proto/scmfit/v1/causal_model_service.proto").read_text()
    message = proto[proto.index(f"message {rpc}Request {{") :]
    message = message[: message.index("}")]
    hints = typing.get_type_hints(QUERY_KINDS[rpc].query, include_extras=True)
    for name, hint in hints.items():
        for marker in getattr(hint, "__metadata__", ()):
            if isinstance(marker, SampleCount):
                stated = re.search(rf"0 means (\d+)\.\n\s*uint32 {name} =", message)
                assert stated is not None and int(stated.group(1)) == marker.default, (rpc, name)


def test_a_model_summary_fills_every_field_from_the_entry_and_its_result() -> None:
    from scmfit.server.stores.models import StoredModel

    result = encode.result_response(
        OUTCOME, model_id="m", num_rows=100, settings=SETTINGS, validating_seconds=0.1, total_seconds=2.0
    ).result
    model = StoredModel("m", result.SerializeToString(), b"blob", {"X": ColumnType.DOUBLE}, 1.5, 2.5, True)
    summary = encode.model_summary(model)
    assert unset(summary, set()) == set()
    assert (summary.num_rows, summary.quality, list(summary.nodes)) == (100, pb.QUALITY_BETTER, ["X"])
    assert summary.create_time.ToNanoseconds() == 1_500_000_000 and summary.mean_r2 == 0.9
