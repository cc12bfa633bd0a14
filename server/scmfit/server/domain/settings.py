"""The vocabulary of one fit: its qualities, selection modes, the ranges of its settings and the settings
themselves, with their defaults stated once (the proto's comments repeat them, checked by a test)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Selection(Enum):
    """How a node's model is chosen from DoWhy's candidates (see fitting/selection.py)."""

    RACING = "racing"
    EXHAUSTIVE = "exhaustive"


class MissingValues(Enum):
    """What a fit does with missing cells (see fitting's per-node rows and wire/decode.py)."""

    REFUSE = "refuse"
    PER_NODE = "per_node"
    COMPLETE_ROWS = "complete_rows"


class Quality(Enum):
    """DoWhy's assignment quality, independent of the proto enum so that workers need no stubs."""

    GOOD = "GOOD"
    BETTER = "BETTER"
    BEST = "BEST"


@dataclass(frozen=True)
class Range:
    """A numeric config range; the proto comment of each field states the same interval (a test checks)."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    zero_allowed: bool = False
    """0 is accepted besides the interval (it means "off" or "all")."""

    def contains(self, value: float) -> bool:
        if self.zero_allowed and value == 0:
            return True
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        low, high = (int(v) if float(v).is_integer() else v for v in (self.low, self.high))
        interval = f"{'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        return f"0 or within {interval}" if self.zero_allowed else f"within {interval}"


UINT32_MAX = 2**32 - 1
"""The largest uint32, the proto type of selection_rows; numpy's legacy global seed, which DoWhy uses, is
32 bits too."""

FIT_RANGES: dict[str, Range] = {
    "r2_threshold": Range(0.0, 1.0),
    "test_fraction": Range(0.0, 0.5),
    "seed": Range(0, UINT32_MAX),
    "screening_r2": Range(0.0, 1.0, low_open=True),
    "selection_rows": Range(100, UINT32_MAX, zero_allowed=True),
    "selection_confidence": Range(0.5, 1.0, low_open=True, high_open=True),
}
"""The one source of every FitConfig range; decode enforces these and the proto documents them."""


@dataclass(frozen=True)
class FitSettings:
    """The effective settings of one fit, after defaults are applied and ranges checked."""

    quality: Quality = Quality.GOOD
    r2_threshold: float = 0.7
    validate_r2: bool = True
    test_fraction: float = 0.2
    seed: int = 42
    min_samples: int = 100
    linear_screening: bool = True
    screening_r2: float = 0.99
    selection_rows: int = 10_000
    refit_on_all_rows: bool = True
    selection: Selection = Selection.RACING
    selection_confidence: float = 0.99
    missing_values: MissingValues = MissingValues.REFUSE
    escalate_quality: bool = False
