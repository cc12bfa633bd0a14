"""The web bridge against hostile requests: DNS rebinding, CSRF, odd bodies, a full job table, a
protected gRPC server, and parsing that must not stall other connections. Plain HTTP, no browser."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.serverproc import ServerProcess, start_server
from tests.web.conftest import start_bridge


def call(
    url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = raw.decode(errors="replace")
        return response.status, dict(response.getheaders()), payload
    finally:
        connection.close()


def post_json(url: str, path: str, body: object, **headers: str) -> tuple[int, dict[str, str], Any]:
    return call(url, "POST", path, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})


def test_a_foreign_host_header_is_refused(web: str) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, but the browser still sends its own name."""
    status, _, _ = call(web, "GET", "/api/fixtures", headers={"Host": "evil.example"})
    assert status == 400
    status, _, _ = post_json(web, "/api/jobs", {"fixture": "linear_chain"}, Host="evil.example:8080")
    assert status == 400
    assert call(web, "GET", "/api/fixtures")[0] == 200


def test_cross_origin_and_form_posts_are_refused(web: str) -> None:
    status, _, body = post_json(web, "/api/jobs", {"fixture": "linear_chain"}, Origin="http://evil.example")
    assert status == 403 and "cross-origin" in body["message"]
    form = b"fixture=linear_chain"
    status, _, body = call(web, "POST", "/api/jobs", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and "application/json" in body["message"]
    status, _, body = post_json(web, "/api/jobs", {"fixture": "linear_chain"}, Origin=web)
    assert status == 201 and body["job_id"]


@pytest.mark.parametrize("raw", [b"[1, 2]", b"not json", b'"text"', b"null"])
def test_odd_bodies_get_a_400_not_a_500(web: str, raw: bytes) -> None:
    for path in ("/api/jobs", "/api/models/abc/sample"):
        status, _, body = call(web, "POST", path, raw, {"Content-Type": "application/json"})
        assert status == 400, (path, raw, body)
        assert body["message"]


@pytest.fixture
def fresh_web(grpc_server: ServerProcess) -> Iterator[str]:
    process, url = start_bridge(grpc_server.address, ".web-test-fresh.log")
    yield url
    process.terminate()
    process.wait(30)


def test_a_full_job_table_answers_429_with_retry_after(fresh_web: str) -> None:
    statuses = [post_json(fresh_web, "/api/jobs", {"fixture": "linear_chain"})[0] for _ in range(64)]
    assert statuses == [201] * 64
    status, headers, body = post_json(fresh_web, "/api/jobs", {"fixture": "linear_chain"})
    assert status == 429
    assert int({k.lower(): v for k, v in headers.items()}["retry-after"]) > 0
    assert "64 jobs are waiting" in body["message"]


def test_a_large_csv_is_parsed_off_the_event_loop(fresh_web: str) -> None:
    """While a ~20 MB CSV is parsed, other requests are answered: they finish before the upload does."""
    rows = "".join(f"{i},{2 * i + 1}\n" for i in range(1_200_000))
    body = {"graph": '{"nodes": ["A", "B"], "edges": [["A", "B"]]}', "traces": "A,B\n" + rows}
    finished: list[str] = []

    def upload() -> None:
        post_json(fresh_web, "/api/jobs", body)
        finished.append("upload")

    thread = threading.Thread(target=upload)
    thread.start()
    while thread.is_alive() and "upload" not in finished:
        assert call(fresh_web, "GET", "/api/fixtures")[0] == 200
        finished.append("fixtures")
        if finished.count("fixtures") >= 3:
            break
    thread.join(120)
    assert finished.index("fixtures") < finished.index("upload"), finished


def test_the_bridge_passes_a_token_to_a_protected_server(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token-for-the-bridge\n")
    server = start_server("--auth-token-file", str(token), "--auth-protect-health", workers=1,
                          client_kwargs={"token": "s3cret-token-for-the-bridge"})  # fmt: skip
    with_token, url = start_bridge(server.address, ".web-test-token.log", "--token-file", str(token))
    without_token, bare_url = start_bridge(server.address, ".web-test-no-token.log")
    try:
        status, _, body = call(url, "GET", "/api/health")
        assert (status, body["status"]) == (200, "SERVING")
        status, _, body = call(bare_url, "GET", "/api/health")
        assert status == 503 and body["code"] == "UNAUTHENTICATED"
    finally:
        for process in (with_token, without_token):
            process.terminate()
            process.wait(30)
        assert server.terminate() == 0, server.log()


def test_every_response_says_nosniff_and_carries_the_content_security_policy(web: str) -> None:
    for path in ("/", "/api/fixtures", "/static/app.js"):
        status, headers, _ = call(web, "GET", path)
        lowered = {k.lower(): v for k, v in headers.items()}
        assert status == 200
        assert lowered["x-content-type-options"] == "nosniff"
        policy = lowered["content-security-policy"]
        assert "script-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_deeply_nested_json_is_a_400_not_a_500(web: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    status, _, body = call(web, "POST", "/api/jobs", deep, {"Content-Type": "application/json"})
    assert status == 400 and "nested too deeply" in body["message"]
    nested = b'{"graph": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}"
    status, _, body = call(web, "POST", "/api/jobs", nested, {"Content-Type": "application/json"})
    assert status == 400


def test_a_repeated_key_or_csv_column_is_refused_naming_it(web: str) -> None:
    raw = b'{"graph": "{}", "graph": "{}", "traces": ""}'
    status, _, body = call(web, "POST", "/api/jobs", raw, {"Content-Type": "application/json"})
    assert status == 400 and "'graph' appears twice" in body["message"]
    graph = '{"nodes": ["a", "b"], "edges": [["a", "b"]]}'
    status, _, body = post_json(web, "/api/jobs", {"graph": graph, "traces": "a,b,b\n1,2,3\n2,4,6\n"})
    assert status == 400
    text = json.dumps(body)
    assert "'b' appears twice" in text and "columns 2 and 3" in text


def test_a_chunked_body_is_read_only_up_to_the_limit() -> None:
    """2 GiB sent chunked once gave a 3.3 GB peak: the bridge must answer 413 once the body passes 32 MiB,
    while the client is still sending, and keep none of it."""
    import select
    import socket

    import psutil

    from scmfit.web.app import MAX_UPLOAD_BYTES

    process, url = start_bridge("127.0.0.1:1", ".web-test-chunked.log")  # no gRPC needed to refuse a body
    try:
        bridge = psutil.Process(process.pid)
        before = bridge.memory_info().rss
        parts = urlsplit(url)
        sent, answered_at = 0, None
        chunk = b"[" + b"1," * (512 * 1024) + b"1]"
        reply = b""
        with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=30) as sock:
            sock.sendall(
                b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            try:
                while sent < 8 * MAX_UPLOAD_BYTES:
                    sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    sent += len(chunk)
                    if answered_at is None and select.select([sock], [], [], 0)[0]:
                        answered_at = sent
                        reply = sock.recv(65536)
            except OSError:  # the bridge closed the connection: it stopped reading
                pass
            grown = bridge.memory_info().rss - before
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert answered_at is not None and answered_at < 2 * MAX_UPLOAD_BYTES, answered_at
        assert grown < 2 * MAX_UPLOAD_BYTES, f"the bridge grew {grown} bytes for a refused body of {sent}"
    finally:
        process.terminate()
        process.wait(30)


def test_pending_jobs_are_bounded_by_bytes_as_well_as_by_count(grpc_server: ServerProcess) -> None:
    process, url = start_bridge(grpc_server.address, ".web-test-bytes.log", "--max-pending-bytes", "1000000")
    try:
        rows = "".join(f"{i * 0.5},{2 * i + 0.25}\n" for i in range(20000))  # 320 kB of doubles per job
        body = {"graph": '{"nodes": ["A", "B"], "edges": [["A", "B"]]}', "traces": "A,B\n" + rows}
        statuses = [post_json(url, "/api/jobs", body) for _ in range(6)]
        codes = [status for status, _, _ in statuses]
        assert codes[0] == 201 and 429 in codes, codes
        _, headers, refused = next(item for item in statuses if item[0] == 429)
        assert "1000000 bytes" in refused["message"]
        assert int({k.lower(): v for k, v in headers.items()}["retry-after"]) > 0
    finally:
        process.terminate()
        process.wait(30)
