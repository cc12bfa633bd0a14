"""A shared model store: two real replicas on a real S3-compatible server (moto) on loopback."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scmfit.client import Client, FitResult, NotFoundError, ScmfitError, UnavailableError
from tests.conftest import fixture_case, fresh_seed
from tests.integration.test_lifecycle import wait_for
from tests.serverproc import ServerProcess, free_port, server_python, start_server

pytestmark = pytest.mark.server_internals
boto3 = pytest.importorskip("boto3")

BUCKET = "scmfit-models"
STORE = f"s3://{BUCKET}/replicas"
KEY = "k" * 48


@dataclass
class S3Server:
    """moto's standalone server, started and stopped by its pid."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "SCMFIT_MODEL_KEY": KEY,
        }

    def start(self) -> None:
        moto = str(Path(server_python()).with_name("moto_server"))
        self.process = subprocess.Popen(
            [moto, "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert wait_for(self._answers, timeout=30), "moto_server did not start"
        self.client().create_bucket(Bucket=BUCKET)

    def _answers(self) -> bool:
        try:
            self.client().list_buckets()
            return True
        except Exception:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def client(self) -> Any:
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
            config=Config(connect_timeout=2, retries={"max_attempts": 1}),
        )

    def keys(self) -> list[str]:
        return [item["Key"] for item in self.client().list_objects_v2(Bucket=BUCKET).get("Contents", [])]

    def objects(self, index: bool = False) -> dict[str, bytes]:
        """The model objects (or, with `index`, the index entries beside them)."""
        s3 = self.client()
        listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {
            item["Key"]: s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            for item in listed
            if ("/index/" in item["Key"]) == index
        }


@pytest.fixture
def s3() -> Iterator[S3Server]:
    server = S3Server(free_port())
    server.start()
    yield server
    server.stop()


def replica(s3: S3Server) -> ServerProcess:
    return start_server("--model-store", STORE, workers=1, env=s3.env())


def stop(*replicas: ServerProcess) -> None:
    for server in replicas:
        assert server.terminate() == 0, server.log()


def test_replicas_share_models_fit_on_a_query_and_delete_on_b_gone_on_a(s3: S3Server) -> None:
    a, b = replica(s3), replica(s3)
    try:
        case = fixture_case("linear_chain")
        with Client(a.address, timeout=120) as on_a, Client(b.address, timeout=120) as on_b:
            fitted = on_a.fit(case.graph, case.traces, seed=fresh_seed())
            stored, _ = on_b.get_model(fitted.model_id[:10])  # a prefix resolves against the store
            assert stored.model_id == fitted.model_id and stored.raw == fitted.raw
            assert on_b.sample(fitted.model_id, {case.nodes[0]: 1.0}, num_samples=200, seed=3).num_samples == 200
            assert fitted.model_id in {summary.model_id for summary in on_b.list_models()}
            on_b.delete_model(fitted.model_id)
            with pytest.raises(NotFoundError):
                on_a.get_model(fitted.model_id)  # A had it in memory, yet the store says it is gone
            with pytest.raises(NotFoundError):
                on_a.sample(fitted.model_id, num_samples=10)
            assert fitted.model_id not in {summary.model_id for summary in on_a.list_models()}
        assert s3.objects() == {} and s3.objects(index=True) == {}  # deleted from the store itself, index too
    finally:
        stop(a, b)


def test_each_object_carries_a_checksum_manifest_and_a_corrupt_or_forged_one_is_skipped(s3: S3Server) -> None:
    a = replica(s3)
    try:
        case = fixture_case("complex_dag")
        with Client(a.address, timeout=120) as client:
            first = client.fit(case.graph, case.traces, seed=fresh_seed())
            second = client.fit(case.graph, case.traces, seed=fresh_seed())
        store = s3.client()
        objects = s3.objects()
        assert len(objects) == 2
        for key, data in objects.items():
            head = store.head_object(Bucket=BUCKET, Key=key)
            assert head["Metadata"]["scmfit-sha256"] == hashlib.sha256(data).hexdigest()
        key_of = {model_id: f"replicas/{model_id}.scmfit" for model_id in (first.model_id, second.model_id)}
        # Flipped bytes under the old manifest: the checksum catches it.
        data = objects[key_of[first.model_id]]
        flipped = data[:100] + bytes([data[100] ^ 1]) + data[101:]
        manifest = store.head_object(Bucket=BUCKET, Key=key_of[first.model_id])["Metadata"]
        store.put_object(Bucket=BUCKET, Key=key_of[first.model_id], Body=flipped, Metadata=manifest)
        # A forged object with a matching manifest (a writer without the key): the signature catches it.
        forged = objects[key_of[second.model_id]][:-32] + b"\0" * 32
        store.put_object(
            Bucket=BUCKET,
            Key=key_of[second.model_id],
            Body=forged,
            Metadata={"scmfit-sha256": hashlib.sha256(forged).hexdigest()},
        )
        b = replica(s3)  # a replica that never saw these models in memory
        try:
            with Client(b.address, timeout=60) as client:
                for model_id in (first.model_id, second.model_id):
                    with pytest.raises(NotFoundError):
                        client.get_model(model_id)
                    with pytest.raises(NotFoundError):
                        client.sample(model_id, num_samples=10)
                assert client.health() == "SERVING"
        finally:
            stop(b)
        assert f"skipping object replicas/{first.model_id}.scmfit: its bytes do not match its checksum" in b.log()
        assert f"skipping model file {second.model_id}.scmfit in {STORE}: bad header or signature" in b.log()
    finally:
        stop(a)


def test_a_lost_store_fails_calls_with_unavailable_and_they_recover_when_it_is_back(s3: S3Server) -> None:
    a = replica(s3)
    try:
        case = fixture_case("linear_chain")
        with Client(a.address, timeout=120) as client:
            kept = client.fit(case.graph, case.traces, seed=fresh_seed())
            s3.stop()
            with pytest.raises(UnavailableError, match="model store"):
                client.fit(case.graph, case.traces, seed=fresh_seed())
            with pytest.raises(UnavailableError, match="model store"):
                client.get_model(kept.model_id)
            assert client.health() == "SERVING"  # the server is up; the store is what is missing
            s3.start()  # moto keeps nothing across restarts: an empty bucket again
            again = client.fit(case.graph, case.traces, seed=fresh_seed())
            assert client.get_model(again.model_id)[0].model_id == again.model_id
            assert list(s3.objects()) == [f"replicas/{again.model_id}.scmfit"]
    finally:
        stop(a)


def test_a_replica_killed_while_writing_leaves_only_whole_objects(s3: S3Server) -> None:
    a = replica(s3)
    case = fixture_case("nonlinear")
    results: list[FitResult | ScmfitError] = []

    def fit(seed: int) -> None:
        with Client(a.address, timeout=60) as client:
            try:
                results.append(client.fit(case.graph, case.traces, seed=seed))
            except ScmfitError as error:
                results.append(error)

    threads = [threading.Thread(target=fit, args=(fresh_seed(),), daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    assert wait_for(lambda: len(s3.keys()) >= 1, timeout=120)
    os.kill(a.process.pid, signal.SIGKILL)  # mid-run: other fits are fitting or being written
    a.process.wait(timeout=30)
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    objects = s3.objects()
    store = s3.client()
    for key, data in objects.items():  # every object in the store is whole: its manifest matches
        assert (
            store.head_object(Bucket=BUCKET, Key=key)["Metadata"]["scmfit-sha256"] == hashlib.sha256(data).hexdigest()
        )
    stored = {key.removeprefix("replicas/").removesuffix(".scmfit") for key in objects}
    indexed = {key.removeprefix("replicas/index/").removesuffix(".scmfit") for key in s3.objects(index=True)}
    assert indexed <= stored  # a model object is written before its index entry
    b = replica(s3)
    try:
        with Client(b.address, timeout=60) as client:
            listed = {summary.model_id for summary in client.list_models()}
            # Listings read index entries, never models (test_a_listing_reads_index_entries_never_models):
            # a kill between a model's two writes leaves a whole model listed once a GetModel reads it.
            assert listed == indexed
            for model_id in stored:  # every whole object loads
                assert client.get_model(model_id)[0].model_id == model_id
            assert {summary.model_id for summary in client.list_models()} == stored
            for result in results:  # a fit that returned a model id had it stored and indexed first
                if isinstance(result, FitResult):
                    assert result.model_id in listed
    finally:
        stop(b)
    assert "skipping" not in b.log()


def test_the_store_must_be_reachable_and_keyed_at_start_up(s3: S3Server) -> None:
    env = s3.env()
    del env["SCMFIT_MODEL_KEY"]
    missing_key = subprocess.run(
        [server_python(), "-m", "scmfit.server", "--model-store", STORE],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert missing_key.returncode == 1
    assert "needs the key all replicas sign with" in missing_key.stderr
    unreachable = subprocess.run(
        [server_python(), "-m", "scmfit.server", "--model-store", STORE],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **s3.env(), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"},
    )
    assert unreachable.returncode == 1
    assert f"cannot use the model store {STORE}" in unreachable.stderr


def test_a_stalled_store_ends_each_call_in_its_bound_and_health_keeps_answering(s3: S3Server) -> None:
    """moto SIGSTOPped: once, 36 GetModel calls held every RPC thread, and health timed out too."""
    a = start_server("--model-store", STORE, "--store-timeout", "2", workers=1, env=s3.env())
    try:
        case = fixture_case("linear_chain")
        with Client(a.address, timeout=120) as client:
            kept = client.fit(case.graph, case.traces, seed=fresh_seed()).model_id
        assert s3.process is not None
        s3.process.send_signal(signal.SIGSTOP)
        try:
            errors: list[ScmfitError] = []

            def get() -> None:
                with Client(a.address, timeout=60) as client:
                    try:
                        client.get_model(kept)
                    except ScmfitError as error:
                        errors.append(error)

            calls = [threading.Thread(target=get) for _ in range(12)]
            for thread in calls:
                thread.start()
            with Client(a.address, timeout=5) as client:
                assert client.health() == "SERVING"
                assert client.server_info().workers == 1
            for thread in calls:
                thread.join(60)
            assert len(errors) == 12
            assert all(isinstance(error, UnavailableError) for error in errors), errors
            assert all("did not answer within 2s" in error.message for error in errors), errors[0]
        finally:
            s3.process.send_signal(signal.SIGCONT)
        with Client(a.address, timeout=60) as client:
            assert client.get_model(kept)[0].model_id == kept
    finally:
        stop(a)


def test_an_oversized_object_is_refused_before_it_is_read(s3: S3Server) -> None:
    import psutil

    a = start_server("--model-store", STORE, "--registry-bytes", str(4 * 1024 * 1024), workers=1, env=s3.env())
    try:
        big_id = "cd" * 32
        s3.client().put_object(Bucket=BUCKET, Key=f"replicas/{big_id}.scmfit", Body=os.urandom(48 * 1024 * 1024))
        process = psutil.Process(a.process.pid)
        before = process.memory_info().rss
        with Client(a.address, timeout=60) as client:
            for _ in range(3):
                with pytest.raises(NotFoundError):
                    client.get_model(big_id)
        grown = process.memory_info().rss - before
        assert grown < 24 * 1024 * 1024, f"the server grew {grown} bytes refusing a 48 MiB object"
        assert f"skipping object replicas/{big_id}.scmfit: {48 * 1024 * 1024} bytes, over the" in a.log()
    finally:
        stop(a)


def test_a_listing_reads_index_entries_never_models(s3: S3Server) -> None:
    a = start_server("--model-store", STORE, "--metrics-port", "0", workers=1, env=s3.env())
    try:
        store = s3.client()
        case = fixture_case("complex_dag")
        with Client(a.address, timeout=120) as client:
            fitted = client.fit(case.graph, case.traces, seed=fresh_seed())
        assert list(s3.objects(index=True)) == [f"replicas/index/{fitted.model_id}.scmfit"]
        for number in range(30):  # junk under model names, with no index entry
            store.put_object(Bucket=BUCKET, Key=f"replicas/{number:064x}.scmfit", Body=os.urandom(100_000))
        b = start_server("--model-store", STORE, "--metrics-port", "0", workers=1, env=s3.env())
        try:
            with Client(b.address, timeout=60) as client:
                for _ in range(2):
                    listed = list(client.list_models(page_size=100))
                    assert [summary.model_id for summary in listed] == [fitted.model_id]
                    assert listed[0].nodes == tuple(case.nodes) or list(listed[0].nodes) == case.nodes
            assert b.metric("scmfit_store_reads_total", kind="model") == 0
            assert b.metric("scmfit_store_reads_total", kind="index") == 31  # once each, then remembered
        finally:
            stop(b)
    finally:
        stop(a)
