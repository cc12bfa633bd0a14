"""Property test against the real server: typed traces from known linear formulas, with large offsets,
int64 extremes within the limits, constant stretches and mixed magnitudes. Every accepted request must
give the right answer (R² >= 0.999, coefficients within 1e-6 relative); every refused one a precise error.
It never asserts merely "no crash"."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scmfit.client import Client, InvalidRequestError

ROWS = 300
MAX_EXACT = 2**53
MAX_ABS = 1e30
EXAMPLES = int(os.environ.get("SCMFIT_PROPERTY_EXAMPLES", "25"))


@dataclass(frozen=True)
class Parent:
    name: str
    values: np.ndarray


@dataclass(frozen=True)
class LinearCase:
    parents: tuple[Parent, ...]
    coefficients: tuple[int | float, ...]
    intercept: int | float
    child: np.ndarray


@st.composite
def parent_column(draw: st.DrawFn, name: str, position: int) -> Parent:
    rng = np.random.default_rng([draw(st.integers(0, 2**32 - 1)), position])  # parents never collinear
    base = rng.permutation(ROWS).astype(np.int64)
    stretch = draw(st.integers(0, ROWS // 3))  # a constant stretch, as loops and retries leave in traces
    base[:stretch] = base[0]
    if draw(st.booleans()):  # int64, anywhere up to and a little beyond the exact range
        offset = draw(
            st.one_of(
                st.integers(-(2**31) - 500, 2**31 + 500),
                st.sampled_from([10**12, -(10**12), 2**53 - 2 * ROWS, -(2**53) + 2 * ROWS, 2**53 + 1]),
                st.integers(-(2**53), 2**53),
            )
        )
        step = draw(st.sampled_from([1, 3, 1000]))
        with np.errstate(over="ignore"):
            values = np.clip(base * step + offset, -(2**62), 2**62) if abs(offset) < 2**62 else base * step
        return Parent(name, values.astype(np.int64))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3, 1e6]))
    offset_f = draw(st.sampled_from([0.0, 1e6, -1e9, 1e9]))
    return Parent(name, base.astype(np.float64) * scale + offset_f + position * 0.5)


@st.composite
def linear_cases(draw: st.DrawFn) -> LinearCase:
    count = draw(st.integers(1, 2))
    parents = tuple(draw(parent_column(f"p{i}", i)) for i in range(count))
    all_int = all(p.values.dtype.kind == "i" for p in parents)
    if all_int:
        coefficients: tuple[int | float, ...] = tuple(draw(st.sampled_from([-3, -1, 1, 2, 5])) for _ in parents)
        intercept: int | float = draw(st.integers(-1000, 1000))
        wide: list[int] = [
            sum(int(c) * int(p.values[row]) for c, p in zip(coefficients, parents, strict=True)) + int(intercept)
            for row in range(ROWS)
        ]
        child = np.asarray(wide, dtype=object)
        if max(abs(int(v)) for v in child) >= 2**63:
            child = np.clip(child.astype(float), -(2**62), 2**62).astype(np.int64)  # refused at decode anyway
        else:
            child = child.astype(np.int64)
    else:
        coefficients = tuple(draw(st.sampled_from([-2.5, 0.5, 1.0, 4.0])) for _ in parents)
        intercept = draw(st.sampled_from([0.0, 7.25, -1e3]))
        child = np.asarray(intercept, dtype=np.float64) + np.sum(
            [c * p.values.astype(np.float64) for c, p in zip(coefficients, parents, strict=True)], axis=0
        )
    return LinearCase(parents, coefficients, intercept, np.asarray(child))


def out_of_limits(values: np.ndarray) -> bool:
    if values.dtype.kind == "i":
        return bool(((values > MAX_EXACT) | (values < -MAX_EXACT)).any())
    return bool((np.abs(values) > MAX_ABS).any())


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=linear_cases())
def test_noiseless_linear_traces_get_the_formula_or_a_precise_error(client: Client, case: LinearCase) -> None:
    names = [p.name for p in case.parents] + ["y"]
    data = {p.name: p.values for p in case.parents} | {"y": case.child}
    edges = [(p.name, "y") for p in case.parents]
    refused = [i for i, name in enumerate(names) if out_of_limits(data[name])]
    if refused:
        with pytest.raises(InvalidRequestError) as caught:
            client.fit((names, edges), data, validate_r2=False)
        fields = {v.field.split(".values")[0] for v in caught.value.violations}
        assert {
            f"dataset.columns[{i}]" + (".int64s" if data[names[i]].dtype.kind == "i" else ".doubles") for i in refused
        } <= fields
        return
    # The data itself must carry each parent's share to 1e-7: a double child near 1e12 cannot hold a
    # contribution that spans 0.3 (float64 spacing there is 1e-4), and no fit can recover what was not sent.
    resolution = float(np.spacing(np.abs(case.child.astype(np.float64)).max()))
    assume(
        all(
            abs(c) * float(np.ptp(p.values.astype(np.float64))) > 1e7 * resolution
            for c, p in zip(case.coefficients, case.parents, strict=True)
        )
    )
    result = client.fit((names, edges), data, validate_r2=False)
    y = result.node("y")
    assert y.r2 is not None and y.r2 >= 0.999, (y.r2, y.mechanism)
    for parent, coefficient in zip(case.parents, case.coefficients, strict=True):
        assert y.mechanism.coefficients[parent.name] == pytest.approx(coefficient, rel=1e-6), y.mechanism
