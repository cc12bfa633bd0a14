"""Fit once and ask N what-ifs by model_id, against lift-sys's fit-plus-query subprocess per question.

Both are measured in this one run on this machine. lift-sys's cost is measured for N = 1 and N = 3
questions; its N = 10 and N = 100 totals are that measured per-question median times N (each of its
questions is an independent process, so the cost is linear by construction), and are marked as such.

    .venv/bin/python bench/query_vs_refit.py [--case linear_chain] [--subprocess-runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scmfit.client import Client  # noqa: E402
from scmfit.client._cases import load_case  # noqa: E402
from tests.serverproc import start_server  # noqa: E402


def lift_sys_question(case_path: Path, value: float) -> float:
    case = json.loads(case_path.read_text())
    payload = json.dumps(
        {"graph": case["graph"], "traces": case["traces"], "quality": "GOOD", "interventions": {"X": value}}
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "lift_sys_subprocess.py")],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", default="linear_chain")
    parser.add_argument("--subprocess-runs", type=int, default=3)
    args = parser.parse_args()
    case_path = REPO / "fixtures" / f"{args.case}.json"
    case = load_case(case_path)

    per_question = [lift_sys_question(case_path, float(i)) for i in range(args.subprocess_runs)]
    lift_sys_median = statistics.median(per_question)

    server = start_server(workers=2)
    try:
        rows = []
        with Client(server.address, timeout=300) as client:
            for n in (1, 10, 100):
                started = time.perf_counter()
                fitted = client.fit(case.graph, case.traces, seed=1000 + n)  # a fresh id: really fits
                fit_seconds = time.perf_counter() - started
                query_times = []
                for i in range(n):
                    began = time.perf_counter()
                    client.sample(fitted.model_id, {"X": float(i)}, nodes=["Z"], num_samples=1000)
                    query_times.append(time.perf_counter() - began)
                total = time.perf_counter() - started
                rows.append((n, fit_seconds, statistics.median(query_times), total))
    finally:
        server.terminate()

    print(
        f"case {args.case}; lift-sys subprocess fit+query per question: median {lift_sys_median:.2f} s "
        f"over {len(per_question)} runs ({', '.join(f'{t:.2f}' for t in per_question)})"
    )
    print(
        f"{'N':>4} {'lift-sys total':>16} {'scmfit fit':>11} {'scmfit query p50':>17} {'scmfit total':>13} {'ratio':>8}"
    )
    for n, fit_seconds, query_median, total in rows:
        lift_total = lift_sys_median * n
        mark = "" if n <= args.subprocess_runs else "*"
        print(
            f"{n:>4} {lift_total:>15.1f}{mark or ' '} {fit_seconds:>10.3f}s {query_median * 1000:>15.1f}ms "
            f"{total:>12.3f}s {lift_total / total:>7.0f}x"
        )
    print("* lift-sys total = measured per-question median x N (one independent process per question)")


if __name__ == "__main__":
    main()
