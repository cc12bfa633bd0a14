"""Models rebuilt inside a worker, including from files written before the layer packages."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
from dowhy import gcm

from scmfit.server.config import Limits
from scmfit.server.domain.fit import ModelBundle
from scmfit.server.engine.worker import run_fit
from scmfit.server.fitting import cache
from scmfit.server.wire.decode import decode_fit_request
from tests.conftest import fixture_case

gcm.config.set_default_n_jobs(1)
gcm.config.disable_progress_bars()

OLD_PATHS = [
    (b"scmfit.server.domain.fit\nColumnType", b"scmfit.server.job\nColumnKind"),
    (b"scmfit.server.domain.fit\nModelBundle", b"scmfit.server.job\nModelBundle"),
    (b"scmfit.server.fitting.models\n", b"scmfit.server.numerics\n"),
]


def as_written_before(bundle: ModelBundle) -> bytes:
    """The bundle as an older scmfit pickled it: the same objects under the old module paths.
    Protocol 0 names classes as plain text lines, so the paths can be rewritten in place."""
    mechanisms = {name: pickle.loads(blob) for name, blob in bundle.mechanisms.items()}
    old = {}
    for name, mechanism in mechanisms.items():
        data = pickle.dumps(mechanism, protocol=0)
        for new, before in OLD_PATHS:
            data = data.replace(new, before)
        old[name] = data
    data = pickle.dumps(dataclasses.replace(bundle, mechanisms=old), protocol=0)
    for new, before in OLD_PATHS:
        data = data.replace(new, before)
    assert b"scmfit.server.job\nColumnKind" in data and b"scmfit.server.numerics" in b"".join(old.values())
    return data


def test_a_model_file_from_before_the_move_still_answers_queries() -> None:
    job = decode_fit_request(fixture_case("linear_chain").request(), Limits())
    bundle = pickle.loads(run_fit(job, lambda _: None).model_blob)
    current = cache.load("current", pickle.dumps(bundle))
    older = cache.load("older", as_written_before(bundle))
    assert older.kinds == current.kinds
    for node in bundle.nodes:
        assert type(older.scm.causal_mechanism(node)) is type(current.scm.causal_mechanism(node))
    parents = np.array([[1.5]])
    new_y = current.scm.causal_mechanism("Y").evaluate(parents, np.zeros((1, 1)))
    old_y = older.scm.causal_mechanism("Y").evaluate(parents, np.zeros((1, 1)))
    assert np.array_equal(new_y, old_y)
