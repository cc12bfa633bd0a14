"""The R² rule that turns node scores into a fit's status; pure numpy, so it runs anywhere.

- a node's R² is the held-out R² of its mechanism's prediction from its parents;
- roots, categorical nodes (scored by accuracy), constant held-out targets and splits with
  fewer than two test rows have no R², and say why; `mean_r2` averages the others;
- WARNING when rows < min_samples, or a node's own rows are (cells missing under
  MISSING_VALUES_PER_NODE), or when no node has an R² to validate;
- otherwise SUCCESS when validation is off or mean_r2 >= threshold, else VALIDATION_FAILED.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scmfit.server.domain.fit import FitStatus, NodeResult, ValidationSummary
from scmfit.server.domain.settings import FitSettings


def judge(
    nodes: Sequence[NodeResult], settings: FitSettings, num_rows: int
) -> tuple[FitStatus, str, ValidationSummary]:
    scored = [(node.name, node.score.r2) for node in nodes if node.score.r2 is not None]
    mean_r2 = float(np.mean([r2 for _, r2 in scored])) if scored else None
    failed = tuple(name for name, r2 in scored if r2 < settings.r2_threshold)
    passed = mean_r2 is not None and mean_r2 >= settings.r2_threshold
    validation = ValidationSummary(
        mean_r2=mean_r2,
        threshold=settings.r2_threshold,
        passed=passed,
        failed_nodes=failed,
        enforced=settings.validate_r2,
    )
    r2_text = f"mean held-out R² {mean_r2:.4f}" if mean_r2 is not None else "no node has a held-out R²"
    if num_rows < settings.min_samples:
        return (
            FitStatus.WARNING,
            f"insufficient data: {num_rows} rows < min_samples {settings.min_samples}; "
            f"the fit ran but is not trustworthy ({r2_text})",
            validation,
        )
    short = [  # counts of 0 are unknown (a result built without them), not an empty node: decode refuses those
        f"{node.name!r} ({node.num_train_rows + node.num_test_rows})"
        for node in nodes
        if 0 < node.num_train_rows + node.num_test_rows < min(num_rows, settings.min_samples)
    ]
    if short:
        return (
            FitStatus.WARNING,
            f"too few rows for node(s) {', '.join(short)}: under min_samples {settings.min_samples} once their "
            f"missing cells were left out; the fit ran but those nodes are not trustworthy ({r2_text})",
            validation,
        )
    if not settings.validate_r2:
        return FitStatus.SUCCESS, f"R² validation disabled; {r2_text}", validation
    if mean_r2 is None:
        omitted = ", ".join(f"{node.name}: {node.score.omission.value}" for node in nodes)
        return FitStatus.WARNING, f"nothing to validate: no node has a held-out R² ({omitted})", validation
    if passed:
        return FitStatus.SUCCESS, f"{r2_text} >= threshold {settings.r2_threshold}", validation
    return (
        FitStatus.VALIDATION_FAILED,
        f"{r2_text} < threshold {settings.r2_threshold}; nodes below it: {', '.join(failed) or 'none'}",
        validation,
    )
