"""Finds the function that answers a query, by the query's type: one module per question family under
`fitting/questions/` registers its answers with `@answers(QueryType)`, as DoWhy's gcm keeps `whatif`,
`attribute`, `influence` and `model_evaluation` apart. Every module there is imported here, so a new
family needs no edit in this file."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from scmfit.server.domain.errors import ResultOutOfRangeError
from scmfit.server.domain.query import Query, QueryOutcome
from scmfit.server.fitting import questions
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.models import IntegerOverflowError

Answer = Callable[[FittedModel, Any], QueryOutcome]
F = TypeVar("F", bound=Answer)

ANSWERS: dict[type, Answer] = {}


def answers(query_type: type) -> Callable[[F], F]:
    def register(function: F) -> F:
        ANSWERS[query_type] = function
        return function

    return register


def load_families() -> dict[type, Answer]:
    """Imports every question family once; each registers its answers as it is imported."""
    for module in pkgutil.iter_modules(questions.__path__):
        importlib.import_module(f"{questions.__name__}.{module.name}")
    return ANSWERS


def answer(model: FittedModel, query: Query) -> QueryOutcome:
    function = load_families().get(type(query))
    if function is None:
        raise TypeError(f"no answer is registered for {type(query).__name__}")
    try:
        return function(model, query)
    except IntegerOverflowError as error:  # raised inside DoWhy's sampling, which does not say which node
        raise ResultOutOfRangeError(f"{error}, under the requested interventions") from None
