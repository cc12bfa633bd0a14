"""Model selection: exhaustive is DoWhy's own ranking, racing reaches the same choice with fewer
folds when one candidate is clearly better, and the t-test only drops what the data shows."""

from __future__ import annotations

import numpy as np
import pytest
from dowhy import gcm
from dowhy.gcm import auto
from dowhy.gcm.util.general import set_random_seed

from scmfit.server.domain.fit import CandidateOutcome
from scmfit.server.domain.settings import Quality, Selection
from scmfit.server.fitting.selection import _decided, _eliminate, _Entrant, choose_model, confidently_worse
from scmfit.server.fitting.summary import model_type_name

gcm.config.set_default_n_jobs(1)
gcm.config.disable_progress_bars()
RNG = np.random.default_rng(3)
X2 = RNG.normal(size=(600, 2))
X6 = RNG.normal(size=(600, 6))
TARGETS = {
    "linear": 2 * X2[:, 0] - X2[:, 1] + RNG.normal(size=600),
    "quadratic": X2[:, 0] ** 2 + RNG.normal(scale=0.3, size=600),
    "sine": np.sin(2 * X2[:, 0]) + X2[:, 1] + RNG.normal(scale=0.3, size=600),
}


def chosen(choice: object) -> str:
    [winner] = [c for c in choice.candidates if c.outcome is CandidateOutcome.CHOSEN]  # type: ignore[attr-defined]
    return str(winner.model_type)


@pytest.mark.parametrize("name", list(TARGETS))
def test_exhaustive_selection_reproduces_dowhys_own_ranking(name: str) -> None:
    target = TARGETS[name]
    set_random_seed(11)
    best, ranking = auto.select_model(X2, target, auto.AssignmentQuality.GOOD)
    set_random_seed(11)
    ours = choose_model(X2, target, Quality.GOOD, Selection.EXHAUSTIVE, 0.999)
    dowhy_scores = sorted((model_type_name(factory().sklearn_model), score) for factory, score, _ in ranking)
    our_scores = sorted((c.model_type, c.mean_loss) for c in ours.candidates)
    assert [n for n, _ in our_scores] == [n for n, _ in dowhy_scores]
    assert [s for _, s in our_scores] == pytest.approx([s for _, s in dowhy_scores], rel=1e-12)
    assert chosen(ours) == model_type_name(best.sklearn_model)
    assert all(c.folds == 5 for c in ours.candidates)
    # DoWhy's search leaves the global random state where ours does, so the final fit draws the same.
    set_random_seed(11)
    auto.select_model(X2, target, auto.AssignmentQuality.GOOD)
    after_dowhy = np.random.random()
    set_random_seed(11)
    choose_model(X2, target, Quality.GOOD, Selection.EXHAUSTIVE, 0.999)
    assert np.random.random() == after_dowhy


def test_exhaustive_selection_reproduces_dowhy_at_better_and_without_the_polynomial() -> None:
    target = X6[:, 0] - X6[:, 3] + RNG.normal(scale=0.5, size=600)
    for features, quality in ((X6, auto.AssignmentQuality.GOOD), (X2[:200], auto.AssignmentQuality.BETTER)):
        y = target[: len(features)]
        set_random_seed(5)
        _, ranking = auto.select_model(features, y, quality)
        set_random_seed(5)
        ours = choose_model(features, y, Quality[quality.name], Selection.EXHAUSTIVE, 0.999)
        assert sorted(c.mean_loss for c in ours.candidates) == pytest.approx([s for _, s, _ in ranking], rel=1e-12)


@pytest.mark.parametrize("name", ["quadratic", "sine"])
def test_racing_makes_the_same_choice_with_fewer_folds_on_a_clear_winner(name: str) -> None:
    target = TARGETS[name]
    set_random_seed(11)
    exhaustive = choose_model(X2, target, Quality.GOOD, Selection.EXHAUSTIVE, 0.999)
    set_random_seed(11)
    racing = choose_model(X2, target, Quality.GOOD, Selection.RACING, 0.999)
    assert chosen(racing) == chosen(exhaustive)
    assert sum(c.folds for c in racing.candidates) < sum(c.folds for c in exhaustive.candidates)
    assert any(c.outcome is CandidateOutcome.ELIMINATED for c in racing.candidates)
    full = {c.model_type: c.mean_loss for c in exhaustive.candidates}
    for candidate in racing.candidates:  # a candidate that ran every fold has exhaustive's exact number
        if candidate.folds == 5:
            assert candidate.mean_loss == full[candidate.model_type]


def test_racing_is_deterministic_for_a_seed() -> None:
    runs = []
    for _ in range(2):
        set_random_seed(23)
        runs.append(choose_model(X2, TARGETS["sine"], Quality.GOOD, Selection.RACING, 0.999).candidates)
    assert runs[0] == runs[1]


def test_categorical_targets_use_dowhys_exhaustive_classifier_search() -> None:
    labels = np.where(X2[:, 0] + 0.3 * RNG.normal(size=600) > 0, "up", "down").astype(object)
    set_random_seed(2)
    choice = choose_model(X2, labels, Quality.GOOD, Selection.RACING, 0.999)
    assert choice.metric == "log loss"
    assert len(choice.candidates) >= 3 and all(c.folds == 5 for c in choice.candidates)
    assert [c.outcome for c in choice.candidates].count(CandidateOutcome.CHOSEN) == 1


def test_the_t_test_drops_only_what_the_rows_show() -> None:
    noise = RNG.normal(size=400)
    assert not confidently_worse(noise, 0.999)  # no difference
    assert not confidently_worse(noise - 0.5, 0.999)  # better, not worse
    assert confidently_worse(noise + 1.0, 0.999)
    assert not confidently_worse(noise[:10] + 1.0, 0.999)  # too few rows to decide
    assert confidently_worse(np.full(50, 0.25), 0.999)  # worse by the same amount on every row
    slightly = np.tile([1.0, -1.0], 200) + 0.1  # t = 0.1 / (1 / 20) = 2.0: p = 0.023
    assert confidently_worse(slightly, 0.9) and not confidently_worse(slightly, 0.999)


def entrant(factory, row_losses: np.ndarray) -> _Entrant:
    """A candidate that ran all five folds with these per-row losses (split evenly over the folds)."""
    folds = np.array_split(row_losses, 5)
    return _Entrant(factory, 0, fold_losses=[float(np.mean(f)) for f in folds], row_losses=folds)


def centred(rng: np.random.Generator, spread: float) -> np.ndarray:
    noise = rng.normal(0, spread, size=1000)
    return np.asarray(noise - noise.mean())


LINEAR, BOOSTING, SVR = (
    auto._LIST_OF_POTENTIAL_REGRESSORS_BETTER[0],  # LinearRegression: cost class 1
    auto._LIST_OF_POTENTIAL_REGRESSORS_BETTER[1],  # HistGradientBoostingRegressor: 3
    auto._LIST_OF_POTENTIAL_REGRESSORS_BETTER[5],  # SVR: 6
)


def test_racing_takes_a_cheaper_candidate_only_when_it_is_confidently_within_the_r2_tolerance() -> None:
    rng = np.random.default_rng(0)
    base = rng.exponential(1.0, size=1000)
    variance = 10.0  # of the target: 0.005 of R² is a mean-loss gap of 0.05
    svr = entrant(SVR, base)
    # Worse on every row by 0.02 (a t-test of difference would drop it), but surely within 0.05.
    close = entrant(BOOSTING, base + 0.02 + centred(rng, 0.1))
    decided = _decided([svr, close], variance, 0.999)
    outcomes = {c.model_type: c.outcome for c in decided.candidates}
    assert outcomes == {"SVR": CandidateOutcome.PASSED_OVER, "HistGradientBoostingRegressor": CandidateOutcome.CHOSEN}
    assert model_type_name(decided.model.sklearn_model) == "HistGradientBoostingRegressor"
    assert "chosen over SVR, the lowest loss" in decided.note and "histogram boosting against kernel" in decided.note
    assert [c.cost_class for c in decided.candidates] == [6, 3]

    # Beyond the tolerance on every row: the lowest loss stays, whatever it costs.
    worse = entrant(BOOSTING, base + 0.08)
    assert model_type_name(_decided([svr, worse], variance, 0.999).model.sklearn_model) == "SVR"
    # Within the tolerance on average, but too noisy to be confident of it: the lowest loss stays.
    unsure = entrant(BOOSTING, base + 0.03 + centred(rng, 5.0))
    kept = _decided([svr, unsure], variance, 0.999)
    assert model_type_name(kept.model.sklearn_model) == "SVR" and kept.note == ""
    # Exhaustive selection (no variance passed) is DoWhy's rule: the lowest loss, always.
    assert model_type_name(_decided([svr, close], 0.0, 0.999).model.sklearn_model) == "SVR"
    # Never a dearer one: a linear leader stays even when boosting is as good.
    linear = entrant(LINEAR, base)
    assert model_type_name(_decided([linear, close], variance, 0.999).model.sklearn_model) == "LinearRegression"


def test_the_race_keeps_a_cheaper_candidate_that_is_worse_only_within_the_tolerance() -> None:
    rng = np.random.default_rng(1)
    base = rng.exponential(1.0, size=1000)
    svr, close = entrant(SVR, base), entrant(BOOSTING, base + 0.02 + centred(rng, 0.1))
    _eliminate([svr, close], 0.999, variance=10.0)
    assert not close.eliminated  # a plain t-test of difference would have dropped it
    _eliminate([svr, close], 0.999, variance=0.0)
    assert close.eliminated  # exhaustive's rule, and racing without the cost rule


def test_the_race_drops_a_dearer_candidate_that_cannot_be_better_by_more_than_the_tolerance() -> None:
    rng = np.random.default_rng(2)
    base = rng.exponential(1.0, size=1000)
    variance = 10.0  # 0.005 of R² is a mean-loss gap of 0.05
    linear = entrant(LINEAR, base)
    # Slightly worse than the cheaper leader: too close for a t-test of difference, surely not 0.05 better.
    close = entrant(BOOSTING, base + 0.005 + centred(rng, 0.1))
    assert not confidently_worse(np.concatenate(close.row_losses) - base, 0.999)
    _eliminate([linear, close], 0.999, variance)
    assert close.eliminated and close.equivalent_to == (linear, 1000)
    decided = _decided([linear, close], variance, 0.999)
    assert model_type_name(decided.model.sklearn_model) == "LinearRegression"
    assert decided.note.startswith("HistGradientBoostingRegressor dropped after 5 folds: it could not be better than")
    assert "LinearRegression by more than 0.005 of R²" in decided.note
    assert "histogram boosting against linear" in decided.note

    # As close on average, but so noisy it may still be better by more than the tolerance: it stays in the race.
    unsure = entrant(BOOSTING, base + 0.005 + centred(rng, 5.0))
    _eliminate([linear, unsure], 0.999, variance)
    assert not unsure.eliminated and unsure.equivalent_to is None
    # Exhaustive selection and racing without the cost rule keep the close one too: nothing shows it worse.
    plain = entrant(BOOSTING, base + 0.005 + centred(rng, 0.1))
    _eliminate([linear, plain], 0.999, variance=0.0)
    assert not plain.eliminated
    # Confidently worse outright: dropped as before, with no note (the cost played no part).
    worse = entrant(BOOSTING, base + 0.5 + centred(rng, 0.1))
    _eliminate([linear, worse], 0.999, variance)
    assert worse.eliminated and worse.equivalent_to is None
    assert _decided([linear, worse], variance, 0.999).note == ""
