"""Fits one node's assigned mechanism with DoWhy's public per-node function."""

from __future__ import annotations

import pandas as pd
from dowhy import gcm
from dowhy.gcm import fitting_sampling


def fit_mechanism(scm: gcm.StructuralCausalModel, node: str, train: pd.DataFrame) -> None:
    """DoWhy's `fit` is a loop over this function; driving it ourselves lets us report each node."""
    fitting_sampling.fit_causal_model_of_target(scm, node, train)
