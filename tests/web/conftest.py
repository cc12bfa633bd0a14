from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serverproc import REPO, ServerProcess, server_python, start_server

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def grpc_server() -> Iterator[ServerProcess]:
    process = start_server("--metrics-port", "0", workers=2)
    yield process
    assert process.terminate() == 0, process.log()


@pytest.fixture(scope="module")
def web(grpc_server: ServerProcess) -> Iterator[str]:
    port = free_port()
    log = (REPO / ".web-test.log").open("wb")
    process = subprocess.Popen(
        [server_python(), "-m", "scmfit.client.cli", "web", "--grpc-target", grpc_server.address,
         "--address", f"127.0.0.1:{port}", "--fixtures", str(REPO / "fixtures")],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api/health", timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((REPO / ".web-test.log").read_text()) from None
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(30)
    log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
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
    yield page
    context.close()
