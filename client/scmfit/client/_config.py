"""FitConfig: the one typed form of a fit's settings on the client, mirroring scmfit.v1.FitConfig.

Every call that fits (`Client.fit`, `Client.fit_events`, `AsyncClient`, `fit_request`, the CLI's
cases and the lift-sys adapter) takes this one object, so a new setting is added here and in the proto,
nowhere else. Ranges are the server's to enforce: it names the field and the interval.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scmfit.client._errors import InvalidRequestError
from scmfit.v1 import causal_model_service_pb2 as pb

QUALITY_NAMES: Mapping[str, pb.Quality.ValueType] = {
    "GOOD": pb.QUALITY_GOOD,
    "BETTER": pb.QUALITY_BETTER,
    "BEST": pb.QUALITY_BEST,
}


_invalid = InvalidRequestError.of_field


@dataclass(frozen=True)
class FitConfig:
    """The server's documented defaults, written out so that a reader sees what a fit will use."""

    quality: str = "GOOD"
    """GOOD, BETTER or BEST (DoWhy's AssignmentQuality)."""
    r2_threshold: float = 0.7
    """The mean held-out R² a fit needs for SUCCESS."""
    validate_r2: bool = True
    """Whether the threshold decides the status."""
    test_fraction: float = 0.2
    """The share of rows held out for scoring; 0 holds nothing out (a model for queries only)."""
    seed: int = 42
    """Seeds the split and DoWhy's randomness."""
    min_samples: int = 100
    """Below this many rows the status is WARNING."""
    linear_screening: bool = True
    """Whether a node that a linear model explains skips DoWhy's model zoo."""
    screening_r2: float = 0.99
    """The cross-validated R² that counts as explained by a linear model."""
    selection_rows: int = 10_000
    """Model selection runs on a seeded subsample of this many training rows; 0 means all."""
    refit_on_all_rows: bool = True
    """Whether the stored model is refitted on every row after scoring, for queries."""

    def __post_init__(self) -> None:
        if not isinstance(self.quality, str) or self.quality.upper() not in QUALITY_NAMES:
            raise _invalid(
                "config.quality", f"unknown quality {self.quality!r}; expected one of {', '.join(QUALITY_NAMES)}"
            )
        object.__setattr__(self, "quality", self.quality.upper())
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type == "bool" and not isinstance(value, bool):
                raise _invalid(f"config.{field.name}", f"expected true or false, got {value!r}")
            if field.type == "int" and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
                raise _invalid(f"config.{field.name}", f"expected an integer, got {value!r}")
            if field.type == "float" and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
                raise _invalid(f"config.{field.name}", f"expected a number, got {value!r}")

    @classmethod
    def of(cls, base: FitConfig | None = None, /, **changes: Any) -> FitConfig:
        """`base` (or the defaults) with `changes`; None leaves a field as it is, and an unknown name is
        refused with the list of known ones, so a misspelled setting never silently takes its default."""
        unknown = sorted(set(changes) - set(FIELD_NAMES))
        if unknown:
            raise _invalid(
                f"config.{unknown[0]}", f"unknown setting {unknown[0]!r}; known settings: {', '.join(FIELD_NAMES)}"
            )
        given = {name: value for name, value in changes.items() if value is not None}
        return dataclasses.replace(base or cls(), **given)

    def to_proto(self) -> pb.FitConfig:
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        values["quality"] = QUALITY_NAMES[self.quality]
        return pb.FitConfig(**values)


FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(FitConfig))
"""Every setting's name, in proto order; cases and CLI flags are checked against these."""
