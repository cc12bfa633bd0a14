"""The seeded held-out split, and the training rows DoWhy's model selection needs from it."""

from __future__ import annotations

import math

import numpy as np

from scmfit.server.domain.settings import Quality

MIN_TRAIN_ROWS = {Quality.GOOD: 5, Quality.BETTER: 7, Quality.BEST: 5}
"""DoWhy's model selection runs 5-fold cross-validation on the training rows, which needs 5 of them.
BETTER's zoo has models (LassoCV, RidgeCV) that cross-validate again, 5-fold, inside each outer fold:
every outer training fold must keep 5 rows, which takes 7 training rows."""


def held_out_rows(num_rows: int, test_fraction: float) -> int:
    """The held-out row count, rounded up as scikit-learn's train_test_split does."""
    return math.ceil(num_rows * test_fraction)


def split_indices(num_rows: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The same rows as scikit-learn's `train_test_split(test_size=..., random_state=seed)`."""
    num_test = held_out_rows(num_rows, test_fraction)
    permutation = np.random.RandomState(seed).permutation(num_rows)
    return permutation[num_test:], permutation[:num_test]
