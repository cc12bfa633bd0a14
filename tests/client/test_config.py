"""The client's one FitConfig: typed, checked locally for names and types, and sent field by field."""

from __future__ import annotations

import pytest

from scmfit.client import FitConfig, InvalidRequestError, fit_request
from scmfit.v1 import causal_model_service_pb2 as pb


def test_only_the_settings_given_travel_so_the_server_defaults_the_rest() -> None:
    message = FitConfig(quality="better", seed=0, refit_on_all_rows=False).to_proto()
    assert message.quality == pb.QUALITY_BETTER
    assert message.HasField("seed") and message.seed == 0  # 0 is a value, not "unset"
    assert message.HasField("refit_on_all_rows") and not message.refit_on_all_rows
    assert not message.HasField("r2_threshold") and not message.HasField("test_fraction")


def test_every_proto_setting_has_a_field_and_none_is_extra() -> None:
    proto_fields = [field.name for field in pb.FitConfig.DESCRIPTOR.fields]
    assert list(FitConfig.__dataclass_fields__) == proto_fields


def test_a_misspelled_setting_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        FitConfig.of(r2_treshold=0.5)
    assert caught.value.fields() == ["config.r2_treshold"]
    assert "r2_threshold" in caught.value.message
    with pytest.raises(InvalidRequestError):
        fit_request(["X"], [], {"X": [1.0]}, sed=3)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"validate_r2": "yes"}, "config.validate_r2"),
        ({"seed": 1.5}, "config.seed"),
        ({"seed": True}, "config.seed"),
        ({"r2_threshold": "0.7"}, "config.r2_threshold"),
        ({"quality": "PERFECT"}, "config.quality"),
    ],
)
def test_wrong_types_are_refused_locally_naming_the_field(settings: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        FitConfig.of(**settings)
    assert caught.value.fields() == [field]


def test_of_changes_a_base_and_none_keeps_its_value() -> None:
    base = FitConfig(seed=7, test_fraction=0.25)
    changed = FitConfig.of(base, seed=None, r2_threshold=0.5)
    assert (changed.seed, changed.test_fraction, changed.r2_threshold) == (7, 0.25, 0.5)
    assert base.r2_threshold is None  # frozen: the base is untouched
