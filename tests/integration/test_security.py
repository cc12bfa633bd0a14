"""TLS, mutual TLS and bearer tokens, against real servers with certificates made at test time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scmfit.client import Client, PermissionDeniedError, ScmfitError, UnavailableError, tls_credentials
from tests.certs import Authority
from tests.conftest import fixture_case
from tests.serverproc import ServerProcess, start_server


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pki")
    ca, rogue = Authority(directory, "scmfit-test-ca"), Authority(directory, "rogue-ca")
    server, client, stranger = (
        ca.issue("server", server=True),
        ca.issue("client", server=False),
        rogue.issue("stranger", server=False),
    )
    return {
        "ca": ca.issued.cert,
        "server_cert": server.cert,
        "server_key": server.key,
        "client_cert": client.cert,
        "client_key": client.key,
        "stranger_cert": stranger.cert,
        "stranger_key": stranger.key,
    }


@pytest.fixture(scope="module")
def mtls_server(pki: dict[str, Path]) -> Iterator[ServerProcess]:
    trusted = tls_credentials(pki["ca"], pki["client_cert"], pki["client_key"])
    process = start_server(
        "--tls-cert", str(pki["server_cert"]), "--tls-key", str(pki["server_key"]), "--client-ca", str(pki["ca"]),
        workers=1, client_kwargs={"credentials": trusted},
    )  # fmt: skip
    yield process
    assert process.terminate() == 0, process.log()


def test_mtls_client_with_a_trusted_certificate_fits(mtls_server: ServerProcess, pki: dict[str, Path]) -> None:
    case = fixture_case("linear_chain")
    credentials = tls_credentials(pki["ca"], pki["client_cert"], pki["client_key"])
    with Client(mtls_server.address, credentials=credentials, timeout=120) as client:
        assert client.fit(case.graph, case.traces).status.value == "success"


@pytest.mark.parametrize("who", ["no certificate", "certificate from another CA", "plaintext"])
def test_mtls_refuses_clients_without_a_trusted_certificate(
    mtls_server: ServerProcess, pki: dict[str, Path], who: str
) -> None:
    credentials = {
        "no certificate": tls_credentials(pki["ca"]),
        "certificate from another CA": tls_credentials(pki["ca"], pki["stranger_cert"], pki["stranger_key"]),
        "plaintext": None,
    }[who]
    with Client(mtls_server.address, credentials=credentials, timeout=5) as client, pytest.raises(UnavailableError):
        client.health()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    token_file = tmp_path_factory.mktemp("auth") / "token"
    token_file.write_text("s3cret-token\n")
    process = start_server("--auth-token-file", str(token_file), workers=1)
    yield process
    assert process.terminate() == 0, process.log()
    assert "s3cret-token" not in process.log()


@pytest.mark.parametrize("token", [None, "wrong", "s3cret-token-but-longer"])
def test_missing_or_bad_token_is_unauthenticated(token_server: ServerProcess, token: str | None) -> None:
    with Client(token_server.address, token=token, timeout=10) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            client.server_info()
        assert caught.value.code is not None and caught.value.code.name == "UNAUTHENTICATED"
        with pytest.raises(PermissionDeniedError):
            client.fit((["X"], []), {"X": [1.0] * 10})


def test_the_right_token_works_and_health_stays_open(token_server: ServerProcess) -> None:
    with Client(token_server.address, timeout=10) as anonymous:
        assert anonymous.health() == "SERVING"
    with Client(token_server.address, token="s3cret-token", timeout=120) as client:
        assert client.server_info().dowhy_version == "0.14"
        case = fixture_case("multi_parent")
        assert client.fit(case.graph, case.traces).status.value == "success"


def test_the_token_rides_every_kind_of_call_including_the_chunked_upload(token_server: ServerProcess) -> None:
    case = fixture_case("linear_chain")
    # A tiny threshold sends the data through UploadDataset, a client stream, before FitModel.
    with Client(token_server.address, token="s3cret-token", timeout=120, upload_threshold=1) as client:
        assert client.fit(case.graph, case.traces).status.value == "success"
    with (
        Client(token_server.address, token="wrong", timeout=30, upload_threshold=1) as client,
        pytest.raises(PermissionDeniedError),
    ):
        client.upload_dataset(case.request().dataset)


def test_errors_are_typed(token_server: ServerProcess) -> None:
    with Client(token_server.address, timeout=10) as client, pytest.raises(ScmfitError):
        client.server_info()
