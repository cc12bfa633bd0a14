"""The drop-in adapter and gaps in traces: by default a DataFrame with NaN is refused as the original
refused it (DoWhySubprocessError); a keyword fits it per node."""

from __future__ import annotations

import numpy as np
import pytest

from scmfit.client.compat import DoWhyClient, DoWhySubprocessError
from tests.compat.test_adapter import adapter, chain  # noqa: F401 - the module's fixture, reused


def test_nan_is_refused_by_default_and_fitted_per_node_when_asked(adapter: DoWhyClient) -> None:  # noqa: F811
    graph, traces = chain(rows=400)
    gappy = traces.assign(Y=traces["Y"].where(np.arange(len(traces)) % 5 != 2, np.nan))
    with pytest.raises(DoWhySubprocessError) as caught:
        adapter.fit_scm(graph, gappy)
    assert caught.value.cause is not None and "missing_values" in str(caught.value.cause)
    out = adapter.fit_scm(graph, gappy, missing_values="PER_NODE")
    assert out["status"] == "success"
    assert out["scm"]["mechanisms"]["Y"]["params"]["coefficients"] == pytest.approx([2.0], abs=0.05)
    assert out["metadata"]["num_samples"] == len(gappy)
