"""Large traces: 1M rows x 10 float64 columns (80 MB) converted, uploaded and decoded into server arrays.

Measures, in one run on this machine:
- the two candidate wire forms in-process (packed repeated doubles vs raw little-endian bytes);
- the real path: numpy -> typed columns -> UploadDataset chunks -> the server's preallocated arrays,
  with the server's main-process RSS sampled every 10 ms against its idle baseline.

    .venv/bin/python bench/large_traces.py [--rows 1000000] [--columns 10]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scmfit.client import Client, column  # noqa: E402
from scmfit.v1 import causal_model_service_pb2 as pb  # noqa: E402
from tests.serverproc import start_server  # noqa: E402


def wire_forms(arrays: dict[str, np.ndarray]) -> None:
    started = time.perf_counter()
    packed = [pb.DoubleValues(values=a.tolist()).SerializeToString() for a in arrays.values()]
    encode_packed = time.perf_counter() - started
    started = time.perf_counter()
    decoded = [np.asarray(pb.DoubleValues.FromString(b).values, dtype=np.float64) for b in packed]
    decode_packed = time.perf_counter() - started
    started = time.perf_counter()
    raw = [a.astype("<f8").tobytes() for a in arrays.values()]
    encode_raw = time.perf_counter() - started
    started = time.perf_counter()
    decoded_raw = [np.frombuffer(b, dtype="<f8") for b in raw]
    decode_raw = time.perf_counter() - started
    assert all(np.array_equal(a, b) for a, b in zip(decoded, decoded_raw, strict=True))
    print(
        f"wire forms, in-process: packed repeated doubles encode {encode_packed:.2f}s decode {decode_packed:.2f}s; "
        f"raw little-endian bytes encode {encode_raw:.2f}s decode {decode_raw:.2f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    arrays = {f"c{i}": rng.normal(size=args.rows) for i in range(args.columns)}
    raw_mb = sum(a.nbytes for a in arrays.values()) / 2**20
    print(f"{args.rows:,} rows x {args.columns} float64 columns = {raw_mb:.0f} MB raw")
    wire_forms(arrays)

    server = start_server("--no-warm-up", workers=1)
    process = psutil.Process(server.process.pid)
    time.sleep(1.0)
    baseline = process.memory_info().rss / 2**20
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss / 2**20)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with Client(server.address, timeout=600) as client:
            started = time.perf_counter()
            dataset = pb.Dataset(columns=[column(name, values) for name, values in arrays.items()])
            converted = time.perf_counter() - started
            dataset_id = client.upload_dataset(dataset)
            total = time.perf_counter() - started
    finally:
        stop.set()
        sampler.join()
        server.terminate()
    print(f"convert {converted:.2f}s + upload and decode {total - converted:.2f}s = {total:.2f}s (target <= 3 s)")
    print(
        f"server RSS: idle {baseline:.0f} MB, peak {peak[0]:.0f} MB, growth {peak[0] - baseline:.0f} MB "
        f"= {(peak[0] - baseline) / raw_mb:.2f}x the raw bytes (target < 2x); dataset {dataset_id[:19]}..."
    )


if __name__ == "__main__":
    main()
