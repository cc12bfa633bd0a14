"""What lift-sys does today, for benchmarks: one fresh Python process per call that imports DoWhy,
fits the SCM with DoWhy's defaults and, for a what-if question, samples under the intervention.

stdin: {"graph": {"nodes", "edges"}, "traces": {col: [...]}, "quality": "GOOD",
        "interventions": {"X": 2.0} (optional), "num_samples": 1000}
stdout: {"status", "mean_r2", "statistics"?: {node: {"mean", ...}}}
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import networkx as nx
import numpy as np
import pandas as pd
from dowhy import gcm
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split


def constant(value: float) -> Callable[[np.ndarray], float]:
    return lambda _: value


def main() -> None:
    request = json.load(sys.stdin)
    gcm.config.disable_progress_bars()
    frame = pd.DataFrame(request["traces"])
    train, test = train_test_split(frame, test_size=0.2, random_state=42)
    graph = nx.DiGraph([tuple(edge) for edge in request["graph"]["edges"]])
    graph.add_nodes_from(request["graph"]["nodes"])
    scm = gcm.StructuralCausalModel(graph)
    gcm.auto.assign_causal_mechanisms(scm, train, quality=getattr(gcm.auto.AssignmentQuality, request["quality"]))
    gcm.fit(scm, train)
    scores = []
    for node in graph.nodes:
        parents = sorted(graph.predecessors(node))
        if parents:
            predicted = scm.causal_mechanism(node).prediction_model.predict(test[parents].to_numpy())
            scores.append(r2_score(test[node].to_numpy(), predicted.reshape(-1)))
    out: dict[str, object] = {"mean_r2": float(np.mean(scores)) if scores else None}
    out["status"] = "success" if scores and out["mean_r2"] >= 0.7 else "validation_failed"  # type: ignore[operator]
    if "interventions" in request:
        samples = gcm.interventional_samples(
            scm,
            {node: constant(value) for node, value in request["interventions"].items()},
            num_samples_to_draw=request.get("num_samples", 1000),
        )
        out["statistics"] = {c: {"mean": float(samples[c].mean()), "std": float(samples[c].std())} for c in samples}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
