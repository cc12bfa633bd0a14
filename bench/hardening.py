"""The review's attacks, replayed against a real server on loopback, with the figures they produce now.

    .venv/bin/python bench/hardening.py

Prints, for each attack: the server's RSS around a 60-column x 2M-row upload header held open; the
worker spawns caused by cancelled 150-node BETTER fits (one, then 38 in a row); how long fits wait
for a worker right after those cancels; and how long the children of a SIGKILLed server live on.
Figures, not pass/fail: these machines are shared and noisy.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scmfit.client import Client, FitProgress, Stage, fit_request  # noqa: E402
from scmfit.v1 import causal_model_service_pb2 as pb  # noqa: E402
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc  # noqa: E402
from tests.conftest import fixture_case  # noqa: E402
from tests.serverproc import ServerProcess, start_server  # noqa: E402


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def held_header(server: ServerProcess, columns: int) -> None:
    before = rss_mb(server.process.pid)
    specs = [pb.ColumnSpec(name=f"c{i}", type=pb.COLUMN_TYPE_STRING) for i in range(columns)]
    header = pb.UploadDatasetRequest(header=pb.DatasetHeader(columns=specs, num_rows=2_000_000))
    release = threading.Event()
    codes: list[str] = []

    def messages():  # type: ignore[no-untyped-def]
        yield header
        release.wait(10)

    def run() -> None:
        with grpc.insecure_channel(server.address) as channel:
            try:
                pb_grpc.CausalModelServiceStub(channel).UploadDataset(messages(), timeout=30)
            except grpc.RpcError as error:
                codes.append(error.code().name)  # type: ignore[attr-defined]

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(2)
    during = rss_mb(server.process.pid)
    release.set()
    thread.join(30)
    print(f"upload header {columns} x 2M held open: RSS {before:.0f} -> {during:.0f} MB; the call ended with {codes}")


def cancelled_fit_request() -> pb.FitModelRequest:
    rng = np.random.default_rng(7)
    names = [f"v{i:03d}" for i in range(150)]
    edges = [(names[i], names[j]) for j in range(1, 150) for i in rng.choice(j, size=min(j, 2), replace=False)]
    return fit_request(names, edges, {name: rng.normal(size=500) for name in names}, quality="BETTER")


def cancel_after_first_fitting(client: Client, request: pb.FitModelRequest) -> None:
    events = client.fit_events(request)
    for event in events:
        if isinstance(event, FitProgress) and event.stage is Stage.FITTING:
            break
    events.close()


def cancels(server: ServerProcess) -> None:
    request = cancelled_fit_request()
    case = fixture_case("linear_chain")
    with Client(server.address, timeout=300) as client:
        for count in (1, 38):
            spawns = server.metric("scmfit_worker_spawns_total")
            for _ in range(count):
                cancel_after_first_fitting(client, request)
            started = time.monotonic()
            client.fit(case.graph, case.traces, seed=int(time.time_ns() % 2**31))
            waited = time.monotonic() - started
            time.sleep(20)  # anything still to be killed would be killed by now
            extra = server.metric("scmfit_worker_spawns_total") - spawns
            print(
                f"{count} cancelled 150-node BETTER fit(s): {extra:.0f} worker spawns within 20 s after; "
                f"the next fit took {waited:.1f} s (including warm-up of the replacements)"
            )


def killed_server() -> None:
    server = start_server(workers=2)
    children = psutil.Process(server.process.pid).children(recursive=True)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    started = time.monotonic()
    while any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
        if time.monotonic() - started > 60:
            break
        time.sleep(0.05)
    alive = [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    print(f"SIGKILL of the server: {len(children)} children, all gone after {time.monotonic() - started:.1f} s"
          if not alive else f"SIGKILL of the server: still alive after 60 s: {alive}")  # fmt: skip


def main() -> None:
    server = start_server("--metrics-port", "0", workers=2)
    try:
        held_header(server, 60)  # over max_upload_cells: refused at the header
        held_header(server, 30)  # within it: held open, then the client gives up
        if "--headers-only" not in sys.argv:
            cancels(server)
    finally:
        server.terminate()
    if "--headers-only" not in sys.argv:
        killed_server()


if __name__ == "__main__":
    main()
