from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serverproc import REPO, ServerProcess, free_port, server_python, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]

playwright_sync = pytest.importorskip("playwright.sync_api")
pytest.importorskip("starlette")


@pytest.fixture(scope="module")
def grpc_server() -> Iterator[ServerProcess]:
    process = start_server("--metrics-port", "0", workers=2)
    yield process
    assert process.terminate() == 0, process.log()


def start_bridge(target: str, log_name: str, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """`scmfit web` in a subprocess on a free port, pointed at `target`; waits until it answers."""
    port = free_port()
    with (REPO / log_name).open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [server_python(), "-m", "scmfit.client.cli", "web", "--grpc-target", target,
             "--address", f"127.0.0.1:{port}", "--fixtures", str(REPO / "fixtures"), *extra],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api/fixtures", timeout=2).read()
            return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((REPO / log_name).read_text()) from None
            time.sleep(0.2)


@pytest.fixture(scope="module")
def web(grpc_server: ServerProcess) -> Iterator[str]:
    process, url = start_bridge(grpc_server.address, ".web-test.log")
    yield url
    process.terminate()
    process.wait(30)


@pytest.fixture(scope="module")
def dead_web() -> Iterator[str]:
    """A bridge whose gRPC side is down: nothing listens on its target."""
    process, url = start_bridge(f"127.0.0.1:{free_port()}", ".web-test-dead.log")
    yield url
    process.terminate()
    process.wait(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if os.environ.get("SCMFIT_SKIP_BROWSER") == "1":
        pytest.skip("SCMFIT_SKIP_BROWSER=1: the browser tests were skipped on request")
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: apt-get install -y chromium")
    with playwright_sync.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object, web: str) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1200, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(web)
    page.wait_for_selector("body[data-fixtures=loaded]")  # else the late listing resets the fixture choice
    yield page
    context.close()
