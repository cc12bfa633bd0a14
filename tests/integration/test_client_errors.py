"""The client's errors as httpx shapes them: a transport branch (no answer came) apart from a server
branch (the server answered with a status), each status detail readable from the exception. Every
case runs against a real server, or a real port where none listens."""

from __future__ import annotations

import pytest

from scmfit.client import (
    CallTimeoutError,
    Client,
    ConnectError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ScmfitError,
    ServerError,
    TransportError,
    UnauthenticatedError,
    UnavailableError,
)
from tests.conftest import fixture_case, fresh_seed
from tests.integration.test_lifecycle import slow_request
from tests.integration.test_security import token_server  # noqa: F401 - the module's fixture, reused
from tests.serverproc import ServerProcess, free_port


def test_nothing_listening_is_a_connect_error_on_the_transport_branch() -> None:
    with Client(f"127.0.0.1:{free_port()}", timeout=5) as client, pytest.raises(ConnectError) as caught:
        client.server_info()
    error = caught.value
    assert isinstance(error, TransportError) and isinstance(error, UnavailableError)
    assert not isinstance(error, ServerError)
    assert error.request_id == ""  # no server answered


def test_the_calls_own_deadline_is_a_call_timeout_on_the_transport_branch(client: Client) -> None:
    with pytest.raises(CallTimeoutError) as caught:
        client.fit(slow_request(nodes=6, rows=2000), timeout=0.5)
    assert isinstance(caught.value, TransportError) and isinstance(caught.value, DeadlineExceededError)
    assert not isinstance(caught.value, ServerError)


def test_a_refused_request_is_a_server_error_with_its_violations_and_request_id(client: Client) -> None:
    case = fixture_case("linear_chain")
    request = case.request(seed=fresh_seed())
    request.config.r2_threshold = 2.0
    with pytest.raises(InvalidRequestError) as caught:
        client.fit(request)
    error = caught.value
    assert isinstance(error, ServerError) and not isinstance(error, TransportError)
    assert error.fields() == ["config.r2_threshold"]
    assert error.details.violations == error.violations
    assert len(error.request_id) >= 8


def test_an_unknown_model_names_the_resource(client: Client) -> None:
    missing = "ab" * 32
    with pytest.raises(NotFoundError) as caught:
        client.sample(missing)
    resource = caught.value.resource
    assert resource is not None
    assert (resource.resource_type, resource.resource_name) == ("scmfit.v1.Model", missing)


def test_a_missing_package_is_a_precondition_with_its_subject(client: Client) -> None:
    with pytest.raises(FailedPreconditionError) as caught:
        client.fit(fixture_case("linear_chain").request(quality="BEST"))
    [violation] = caught.value.preconditions
    assert (violation.type, violation.subject) == ("MISSING_DEPENDENCY", "autogluon.tabular")


def test_a_missing_token_is_unauthenticated_and_still_a_permission_error(
    token_server: ServerProcess,  # noqa: F811 - the fixture imported above
) -> None:
    with Client(token_server.address, timeout=10) as client, pytest.raises(UnauthenticatedError) as caught:
        client.server_info()
    assert isinstance(caught.value, PermissionDeniedError) and isinstance(caught.value, ServerError)
    assert isinstance(caught.value, ScmfitError)
