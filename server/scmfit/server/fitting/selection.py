"""Model selection for one node: DoWhy's candidates on DoWhy's folds, raced fold by fold.

Exhaustive selection is DoWhy's `select_model` step for step: the same candidate list (quality,
and the polynomial model when there are at most 5 encoded features), the same five shuffled folds
drawn from the global random state, the same per-candidate seeds, and the mean of the per-fold
losses; the lowest wins, ties in DoWhy's order. A test checks that it reproduces DoWhy's ranking.

Racing evaluates the same folds, one at a time for every candidate still in the race. After each
fold but the last, a candidate is dropped when its per-row held-out losses are worse than the
leader's (the lowest mean so far) by a one-sided paired t-test at `confidence`. It stops when one
candidate is left, or after the last fold. Each candidate keeps its own random state between its
folds, so every number racing reports is the number exhaustive selection computes for that
candidate and fold: racing can only stop earlier.

Racing also weighs the final fit's cost, which DoWhy does not: it looks for the cheapest model
within R2_TOLERANCE of cross-validated R² of the best. Cost classes (COST_CLASSES: how fit and
prediction grow with rows) are fixed, never timed, so the choice stays deterministic. Against a
leader of a different class the t-test is shifted by the tolerance (as a mean loss, R2_TOLERANCE
times the target's variance): a candidate cheaper than the leader is dropped only when confidently
worse by more than the tolerance; a dearer one is dropped as soon as it confidently cannot be better
by more than the tolerance (its cost is not worth a gain that small; the note records it). After the
last fold, the cheapest candidate confidently within the tolerance of the lowest loss replaces it.
Equivalence, not a failed test of difference: with thousands of held-out rows the t-test tells
apart models whose R² differ by 0.002 (measured: SVR 0.9262 against boosting 0.9244), yet an SVR,
quadratic in rows, took 150 s to fit at 100k rows where boosting takes seconds. Within a class,
and in exhaustive selection, the rule is DoWhy's.

Classification targets (DoWhy's log loss on stratified folds) use DoWhy's own exhaustive search.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from dowhy.gcm import auto
from dowhy.gcm.ml import PredictionModel
from dowhy.gcm.ml.classification import ClassificationModel
from dowhy.gcm.ml.regression import create_polynom_regressor
from dowhy.gcm.util.general import auto_apply_encoders, auto_fit_encoders, is_categorical, shape_into_2d
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold

from scmfit.server.domain.fit import Candidate, CandidateOutcome
from scmfit.server.domain.settings import Quality, Selection
from scmfit.server.fitting.summary import model_type_name

Factory = Callable[[], PredictionModel]
SPLITS = 5
MAX_ROWS_PER_SPLIT = 20_000
"""DoWhy's `max_samples_per_split`: each fold trains and tests on at most this many rows."""
MIN_TEST_ROWS = 20
"""Fewer paired rows than this never drop a candidate: the t-test would rest on too little."""
REGRESSION_METRIC = "mean squared error"
R2_TOLERANCE = 0.005
"""How much cross-validated R² racing gives up for a cheaper model, at most."""
COST_CLASSES = {
    "LinearRegression": 1,
    "RidgeCV": 1,
    "LassoCV": 1,
    "ElasticNetCV": 1,
    "Pipeline": 2,  # DoWhy's polynomial features + linear regression
    "HistGradientBoostingRegressor": 3,
    "RandomForestRegressor": 4,
    "ExtraTreesRegressor": 4,
    "AdaBoostRegressor": 4,
    "GradientBoostingRegressor": 4,
    "KNeighborsRegressor": 5,
    "SVR": 6,
}
"""How a candidate's fit and prediction grow with rows, cheapest first: linear in rows with a small
constant; polynomial features (more columns); histogram boosting (binned, n log n); ensembles of
full trees; neighbours (each prediction scans the training rows); kernel methods (n² to n³)."""
COST_CLASS_NAMES = {
    1: "linear",
    2: "polynomial",
    3: "histogram boosting",
    4: "tree ensemble",
    5: "neighbours",
    6: "kernel",
}

_REGRESSORS = {
    Quality.GOOD: auto._LIST_OF_POTENTIAL_REGRESSORS_GOOD,
    Quality.BETTER: auto._LIST_OF_POTENTIAL_REGRESSORS_BETTER,
}
"""DoWhy's own lists (the data has no NaNs: decode refuses them), read, never copied."""


@dataclass(frozen=True)
class Choice:
    """The chosen model, unfitted, and the evidence for it."""

    model: PredictionModel | ClassificationModel
    candidates: tuple[Candidate, ...]
    metric: str
    note: str = ""


@dataclass
class _Entrant:
    factory: Factory
    seed: int
    state: tuple[Any, Any] | None = None
    fold_losses: list[float] = field(default_factory=list)
    row_losses: list[np.ndarray] = field(default_factory=list)
    eliminated: bool = False
    equivalent_to: tuple[_Entrant, int] | None = None
    """The cheaper leader a dearer candidate was dropped for (it could not be better by more than
    R2_TOLERANCE), and over how many rows; None when it was dropped as confidently worse."""

    @property
    def mean_loss(self) -> float:
        return float(np.mean(self.fold_losses)) if self.fold_losses else float("inf")


def choose_model(
    features: np.ndarray, target: np.ndarray, quality: Quality, mode: Selection, confidence: float
) -> Choice:
    """The model DoWhy's `select_model` would choose (racing: with high probability, and the same
    when the race runs to the last fold), with one Candidate per model it tried."""
    dowhy_quality = auto.AssignmentQuality[quality.name]
    if is_categorical(target) or quality not in _REGRESSORS:
        model, performances = auto.select_model(features, target, dowhy_quality)
        ranked = tuple(
            Candidate(
                model_type=_name(factory),
                folds=SPLITS,
                mean_loss=float(score),
                outcome=CandidateOutcome.CHOSEN if rank == 0 else CandidateOutcome.RANKED,
            )
            for rank, (factory, score, _) in enumerate(performances)
        )
        metric = str(performances[0][2]) if performances else ""
        return Choice(model=model, candidates=ranked, metric=metric)
    factories: list[Factory] = list(_REGRESSORS[quality])
    if auto_apply_encoders(features, auto_fit_encoders(features)).shape[1] <= 5:
        factories.append(create_polynom_regressor)  # as DoWhy: only with few features
    racing = mode is Selection.RACING
    variance = float(np.var(target.astype(float))) if racing else 0.0
    entrants = race(factories, features, target, racing=racing, confidence=confidence, variance=variance)
    return _decided(entrants, variance, confidence)


def race(
    factories: Sequence[Factory],
    features: np.ndarray,
    target: np.ndarray,
    *,
    racing: bool,
    confidence: float,
    variance: float = 0.0,
) -> list[_Entrant]:
    """Evaluates the candidates fold by fold; the global random state is consumed as DoWhy does.
    `variance` (of the target) > 0 turns on the cost-aware rule for cheaper candidates."""
    features, target = shape_into_2d(features, target)
    folds = list(KFold(n_splits=SPLITS, shuffle=True).split(range(features.shape[0])))
    seeds = np.random.randint(np.iinfo(np.int32).max, size=len(factories))
    entrants = [_Entrant(factory, int(seed)) for factory, seed in zip(factories, seeds, strict=True)]
    for number, (train_rows, test_rows) in enumerate(folds, start=1):
        train, test = train_rows[:MAX_ROWS_PER_SPLIT], test_rows[:MAX_ROWS_PER_SPLIT]
        for entrant in entrants:
            if not entrant.eliminated:
                _evaluate(entrant, features, target, train, test)
        if racing and number < len(folds):
            _eliminate(entrants, confidence, variance)
            if sum(not entrant.eliminated for entrant in entrants) == 1:
                break
    last = entrants[-1].state
    if last is not None:  # leave the global state where DoWhy's sequential search leaves it
        np.random.set_state(last[0])
        random.setstate(last[1])
    return entrants


def _evaluate(entrant: _Entrant, features: np.ndarray, target: np.ndarray, train: Any, test: Any) -> None:
    """One fold of one candidate, in that candidate's own random state (DoWhy seeds it once, then
    runs its folds in a row; saving and restoring the state between folds reproduces that)."""
    if entrant.state is None:
        np.random.seed(entrant.seed)
        random.seed(entrant.seed)
    else:
        np.random.set_state(entrant.state[0])
        random.setstate(entrant.state[1])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        model = entrant.factory()
        model.fit(features[train], target[train])
        predicted = np.asarray(model.predict(features[test]), dtype=float).reshape(-1)
    entrant.state = (np.random.get_state(), random.getstate())
    actual = target[test].astype(float).reshape(-1)
    losses = (actual - predicted) ** 2
    entrant.fold_losses.append(float(np.mean(losses)))
    entrant.row_losses.append(losses)


def _eliminate(entrants: list[_Entrant], confidence: float, variance: float) -> None:
    alive = [entrant for entrant in entrants if not entrant.eliminated]
    leader = min(alive, key=lambda entrant: entrant.mean_loss)
    base = np.concatenate(leader.row_losses)
    tolerance = R2_TOLERANCE * variance
    for entrant in alive:
        if entrant is leader:
            continue
        differences = np.concatenate(entrant.row_losses) - base
        if variance > 0 and _cheaper(entrant, leader):  # kept while it may still be as good, in practice
            differences = differences - tolerance
        elif variance > 0 and _cheaper(leader, entrant):  # dearer: worth its cost only if better by more
            shifted = differences + tolerance
            if confidently_worse(shifted, confidence) and not confidently_worse(differences, confidence):
                entrant.equivalent_to = (leader, len(differences))
            differences = shifted
        if confidently_worse(differences, confidence):
            entrant.eliminated = True


def _cheaper(entrant: _Entrant, than: _Entrant) -> bool:
    return 0 < cost_class(entrant.factory) < cost_class(than.factory)


def confidently_worse(differences: np.ndarray, confidence: float) -> bool:
    """A one-sided paired t-test of "the mean difference is above 0" at `confidence`."""
    count = len(differences)
    if count < MIN_TEST_ROWS:
        return False
    mean = float(np.mean(differences))
    spread = float(np.std(differences, ddof=1))
    if mean <= 0:
        return False
    if spread == 0:
        return True  # worse by the same amount on every row
    statistic = mean / (spread / np.sqrt(count))
    return bool(stats.t.sf(statistic, count - 1) < 1 - confidence)


def _decided(entrants: list[_Entrant], variance: float, confidence: float) -> Choice:
    """The lowest mean loss, or (racing, variance > 0) a cheaper candidate indistinguishable from it."""
    alive = [entrant for entrant in entrants if not entrant.eliminated]
    leader = min(alive, key=lambda entrant: entrant.mean_loss)  # min keeps DoWhy's order on ties
    winner, note = leader, ""
    cheaper = _cheaper_equivalent(leader, alive, variance, confidence)
    if cheaper is not None:
        winner = cheaper
        rows = sum(len(losses) for losses in leader.row_losses)
        note = (
            f"{_name(winner.factory)} chosen over {_name(leader.factory)}, the lowest loss: its cross-validated R² "
            f"is lower by {(winner.mean_loss - leader.mean_loss) / variance:.4f}, within {R2_TOLERANCE} at "
            f"confidence {confidence:g} (paired t-test over {rows} held-out rows), and it is cheaper at full size "
            f"({COST_CLASS_NAMES[cost_class(winner.factory)]} against "
            f"{COST_CLASS_NAMES[cost_class(leader.factory)]})"
        )
    notes = [note] if note else []
    notes += [_dearer_note(entrant, confidence) for entrant in entrants if entrant.equivalent_to is not None]
    note = "; ".join(notes)

    def outcome(entrant: _Entrant) -> CandidateOutcome:
        if entrant is winner:
            return CandidateOutcome.CHOSEN
        if entrant is leader:
            return CandidateOutcome.PASSED_OVER
        return CandidateOutcome.ELIMINATED if entrant.eliminated else CandidateOutcome.RANKED

    candidates = tuple(
        Candidate(
            model_type=_name(entrant.factory),
            folds=len(entrant.fold_losses),
            mean_loss=entrant.mean_loss,
            outcome=outcome(entrant),
            cost_class=cost_class(entrant.factory),
        )
        for entrant in entrants
    )
    return Choice(model=winner.factory(), candidates=candidates, metric=REGRESSION_METRIC, note=note)


def _dearer_note(entrant: _Entrant, confidence: float) -> str:
    assert entrant.equivalent_to is not None
    cheaper, rows = entrant.equivalent_to
    folds = len(entrant.fold_losses)
    return (
        f"{_name(entrant.factory)} dropped after {folds} fold{'s' if folds > 1 else ''}: it could not be better than "
        f"{_name(cheaper.factory)} by more than {R2_TOLERANCE} of R² (confidence {confidence:g}, paired t-test over "
        f"{rows} held-out rows), and it is dearer at full size ({COST_CLASS_NAMES[cost_class(entrant.factory)]} "
        f"against {COST_CLASS_NAMES[cost_class(cheaper.factory)]})"
    )


def _cheaper_equivalent(leader: _Entrant, alive: list[_Entrant], variance: float, confidence: float) -> _Entrant | None:
    """The cheapest candidate confidently within R2_TOLERANCE of the leader, if it is cheaper than the leader."""
    if variance <= 0:
        return None
    base = np.concatenate(leader.row_losses)
    tolerance = R2_TOLERANCE * variance
    equivalent = [
        entrant
        for entrant in alive
        if _cheaper(entrant, leader)
        and len(entrant.fold_losses) == len(leader.fold_losses)
        and confidently_worse(tolerance - (np.concatenate(entrant.row_losses) - base), confidence)
    ]
    return min(equivalent, key=lambda entrant: (cost_class(entrant.factory), entrant.mean_loss), default=None)


def cost_class(factory: Factory) -> int:
    model = factory()
    return COST_CLASSES.get(type(getattr(model, "sklearn_model", model)).__name__, 0)


def _name(factory: Factory) -> str:
    model = factory()
    return model_type_name(getattr(model, "sklearn_model", model))
