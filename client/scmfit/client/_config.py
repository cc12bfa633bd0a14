"""FitConfig: the one typed form of a fit's settings on the client, mirroring scmfit.v1.FitConfig.

Every call that fits (`Client.fit`, `Client.fit_events`, `AsyncClient`, `fit_request`, the CLI's
cases and the lift-sys adapter) takes this one object, so a new setting is added here and in the proto,
nowhere else. Ranges are the server's to enforce: it names the field and the interval.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

from scmfit.client._errors import InvalidRequestError
from scmfit.client._wire import QUALITY_NAMES, SELECTION_NAMES
from scmfit.v1 import causal_model_service_pb2 as pb

_invalid = InvalidRequestError.of_field


@dataclass(frozen=True)
class FitConfig:
    """None leaves a setting to the server, whose default each docstring names; like the proto's
    optional fields, only what is set travels, so a server's own defaults apply to the rest."""

    quality: str = "GOOD"
    """GOOD, BETTER or BEST (DoWhy's AssignmentQuality)."""
    r2_threshold: float | None = None
    """The mean held-out R² a fit needs for SUCCESS; server default 0.7."""
    validate_r2: bool | None = None
    """Whether the threshold decides the status; server default true."""
    test_fraction: float | None = None
    """The share of rows held out for scoring, 0 to hold nothing out (a model only for queries); 0.2."""
    seed: int | None = None
    """Seeds the split and DoWhy's randomness; server default 42."""
    min_samples: int | None = None
    """Below this many rows the status is WARNING; server default 100."""
    linear_screening: bool | None = None
    """Whether a node that a linear model explains skips DoWhy's model zoo; server default true."""
    screening_r2: float | None = None
    """The cross-validated R² that counts as explained by a linear model; server default 0.99."""
    selection_rows: int | None = None
    """Model selection runs on a seeded subsample of this many training rows, 0 for all; 10,000."""
    refit_on_all_rows: bool | None = None
    """Whether the stored model is refitted on every row after scoring, for queries; server default true."""
    selection: str | None = None
    """"racing" (the server's default) or "exhaustive" (DoWhy's procedure exactly)."""
    selection_confidence: float | None = None
    """How sure racing must be before it drops a candidate, in (0.5, 1); server default 0.999."""

    def __post_init__(self) -> None:
        if not isinstance(self.quality, str) or self.quality.upper() not in QUALITY_NAMES:
            raise _invalid(
                "config.quality", f"unknown quality {self.quality!r}; expected one of {', '.join(QUALITY_NAMES)}"
            )
        object.__setattr__(self, "quality", self.quality.upper())
        if self.selection is not None and (
            not isinstance(self.selection, str) or self.selection.upper() not in SELECTION_NAMES
        ):
            raise _invalid(
                "config.selection",
                f"unknown selection {self.selection!r}; expected one of {', '.join(SELECTION_NAMES).lower()}",
            )
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kind = str(field.type).removesuffix(" | None")
            if value is None or kind == "str":
                continue
            if kind == "bool" and not isinstance(value, bool):
                raise _invalid(f"config.{field.name}", f"expected true or false, got {value!r}")
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
                raise _invalid(f"config.{field.name}", f"expected an integer, got {value!r}")
            if kind == "float" and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
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
        """Only the settings that are set: the server applies its defaults to the others."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        values["quality"] = QUALITY_NAMES[self.quality]
        if self.selection is not None:
            values["selection"] = SELECTION_NAMES[self.selection.upper()]
        return pb.FitConfig(**{name: value for name, value in values.items() if value is not None})


FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(FitConfig))
"""Every setting's name, in proto order; cases and CLI flags are checked against these."""
