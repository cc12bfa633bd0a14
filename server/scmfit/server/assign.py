"""Selects a causal mechanism for one node with DoWhy's model zoo, on the training rows only."""

from __future__ import annotations

import pandas as pd
from dowhy import gcm
from dowhy.gcm import auto

from scmfit.server.config import Quality

_DOWHY_QUALITY = {
    Quality.GOOD: auto.AssignmentQuality.GOOD,
    Quality.BETTER: auto.AssignmentQuality.BETTER,
    Quality.BEST: auto.AssignmentQuality.BEST,
}


def assign_mechanism(scm: gcm.StructuralCausalModel, node: str, train: pd.DataFrame, quality: Quality) -> None:
    """Assignment sees only training rows, so the held-out R² is not inflated by selection on test data."""
    auto.assign_causal_mechanism_node(scm, node, train, _DOWHY_QUALITY[quality])
