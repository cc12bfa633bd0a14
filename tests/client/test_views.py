"""The client's views are the proto's messages by field name: each maps every proto field (or names it
in UNMAPPED), adds nothing the proto lacks (but DERIVED fields), and its enums round-trip the proto's."""

from __future__ import annotations

import dataclasses
import enum
import re
from pathlib import Path

import pytest
from google.protobuf.message import Message

from scmfit.client import (
    Candidate,
    CheckProgress,
    DistributionChange,
    EffectDecomposition,
    EffectEstimate,
    FitConfig,
    FitMetadata,
    FitProgress,
    FitResult,
    FitStatus,
    GraphCheck,
    IndependenceViolation,
    Interval,
    Mechanism,
    MechanismKind,
    ModelSummary,
    NodeChange,
    NodeResult,
    NodeStatistics,
    Quality,
    RowAttribution,
    SampleResult,
    ServerInfo,
    Stage,
    Validation,
)
from scmfit.v1 import causal_model_service_pb2 as pb

CLIENT = Path(__file__).resolve().parents[2] / "client/scmfit"

VIEWS: list[tuple[type, type[Message]]] = [
    (FitResult, pb.FitResult),
    (NodeResult, pb.NodeResult),
    (Mechanism, pb.Mechanism),
    (Candidate, pb.Candidate),
    (Validation, pb.Validation),
    (FitMetadata, pb.FitMetadata),
    (FitProgress, pb.FitProgress),
    (ServerInfo, pb.GetServerInfoResponse),
    (ModelSummary, pb.ModelSummary),
    (NodeStatistics, pb.NodeStatistics),
    (SampleResult, pb.SampleModelResponse),
    (Interval, pb.Interval),
    (EffectDecomposition, pb.EffectDecomposition),
    (EffectEstimate, pb.EstimateEffectResponse),
    (RowAttribution, pb.RowAttribution),
    (GraphCheck, pb.GraphCheck),
    (IndependenceViolation, pb.IndependenceViolation),
    (CheckProgress, pb.CheckGraphProgress),
    (NodeChange, pb.NodeChange),
    (DistributionChange, pb.DistributionChange),
]


@pytest.mark.parametrize(("view", "message"), VIEWS, ids=[v.__name__ for v, _ in VIEWS])
def test_every_proto_field_is_in_the_view_and_the_view_adds_nothing_else(view: type, message: type[Message]) -> None:
    wire = {field.name for field in message.DESCRIPTOR.fields}
    derived = getattr(view, "DERIVED", {})
    unmapped: frozenset[str] = getattr(view, "UNMAPPED", frozenset())
    fields = {field.name for field in dataclasses.fields(view)}
    read = (fields & wire) | {source for source, _ in derived.values()} | set(unmapped)
    assert wire - read == set(), f"proto fields {view.__name__} drops"
    assert fields - wire - set(derived) - {"raw"} == set(), f"fields of {view.__name__} the proto lacks"


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(FitStatus, pb.FitStatus), (Stage, pb.Stage), (MechanismKind, pb.MechanismKind), (Quality, pb.Quality)],
)
def test_client_enums_round_trip_the_proto(ours: type[enum.Enum], theirs: object) -> None:
    descriptor = theirs.DESCRIPTOR  # type: ignore[attr-defined]
    prefix = descriptor.values[0].name.removesuffix("UNSPECIFIED")
    names = {v.name.removeprefix(prefix) for v in descriptor.values if v.number != 0}
    assert set(ours.__members__) == names
    for member in ours:
        assert descriptor.values_by_name[prefix + member.name].name.removeprefix(prefix) == member.name


def test_a_fully_set_result_reads_back_every_value() -> None:
    metadata = pb.FitMetadata(
        num_rows=10, quality=pb.QUALITY_BEST, linear_screening=True, screening_r2=0.5, selection=pb.SELECTION_RACING
    )
    metadata.stage_timings.add(stage=pb.STAGE_FITTING).duration.FromNanoseconds(1_500_000_000)
    node = pb.NodeResult(name="Y", r2_omission=pb.R2_OMISSION_ROOT_NODE, selection=pb.SELECTION_PATH_ROOT)
    node.mechanism.coefficients.add(feature="X", value=2.0)
    result = FitResult.from_proto(pb.FitResult(status=pb.FIT_STATUS_WARNING, nodes=[node], metadata=metadata))
    assert result.status is FitStatus.WARNING
    assert result.metadata.quality is Quality.BEST and result.metadata.quality == "BEST"
    assert result.metadata.linear_screening and result.metadata.screening_r2 == 0.5
    assert result.metadata.selection == "racing"
    assert result.metadata.stage_seconds == {Stage.FITTING: 1.5}
    assert result.validation.mean_r2 is None  # unset optional: None, not 0
    read = result.node("Y")
    assert (read.r2, read.r2_omission, read.selection) == (None, "root_node", "root")
    assert read.mechanism.coefficients == {"X": 2.0} and read.mechanism.intercept is None


def test_the_config_is_the_proto_and_its_docstrings_restate_no_default() -> None:
    """Defaults are stated once (the proto's comments and the server's FitSettings): client text that
    names a setting beside a number must not say what its default is."""
    assert [f.name for f in dataclasses.fields(FitConfig)] == [f.name for f in pb.FitConfig.DESCRIPTOR.fields]
    restated = []
    for path in sorted(CLIENT.rglob("*.py")):
        if "/v1/" in str(path):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for name in (f.name for f in pb.FitConfig.DESCRIPTOR.fields):
                if name in line and re.search(r"default(?:s)?\b[^.;]*?\d", line, re.IGNORECASE):
                    restated.append(f"{path.relative_to(CLIENT)}:{number}: {line.strip()}")
    assert restated == []
