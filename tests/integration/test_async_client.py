"""AsyncClient against the real server: the same results and errors as Client, from one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from scmfit.client import (
    AsyncClient,
    Client,
    FitConfig,
    FitProgress,
    FitResult,
    FitStatus,
    InvalidRequestError,
    NotFoundError,
    Stage,
)
from tests.conftest import fixture_case, fresh_seed
from tests.integration.test_lifecycle import slow_request, wait_for
from tests.serverproc import ServerProcess, start_server


def test_fit_streams_progress_and_agrees_with_the_sync_client(server: ServerProcess) -> None:
    case = fixture_case("complex_dag")
    config = FitConfig(seed=fresh_seed())

    async def run() -> tuple[list[FitProgress], FitResult]:
        seen: list[FitProgress] = []
        async with AsyncClient(server.address, timeout=120) as client:
            result = await client.fit(case.graph, case.traces, config, on_progress=seen.append)
        return seen, result

    seen, result = asyncio.run(run())
    assert result.status is FitStatus.SUCCESS
    assert seen[0].stage is Stage.VALIDATING
    assert sorted((p.node, p.stage) for p in seen[1:]) == sorted(
        (node, stage) for node in case.nodes for stage in (Stage.ASSIGNING, Stage.FITTING, Stage.EVALUATING)
    )
    with Client(server.address, timeout=120) as sync:
        again = sync.fit(case.graph, case.traces, config)
    assert again.model_id == result.model_id and again.reused  # the same request, byte for byte
    assert [n.r2 for n in again.nodes] == [n.r2 for n in result.nodes]


def test_queries_registry_and_uploads(server: ServerProcess) -> None:
    case = fixture_case("linear_chain")

    async def run() -> None:
        # upload_threshold=1 sends the data in chunks through UploadDataset first.
        async with AsyncClient(server.address, timeout=120, upload_threshold=1) as client:
            fitted = await client.fit(case.graph, case.traces, seed=fresh_seed())
            assert fitted.status is FitStatus.SUCCESS
            stored, summary = await client.get_model(fitted.model_id)
            assert stored.model_id == summary.model_id == fitted.model_id
            assert fitted.model_id in [m.model_id async for m in client.list_models(page_size=2)]
            sampled = await client.sample(fitted.model_id, {"X": 1.0}, num_samples=2000, seed=1)
            assert sampled.statistics["X"].mean == 1.0
            slope = fitted.node("Y").mechanism.coefficients["X"] * fitted.node("Z").mechanism.coefficients["Y"]
            effect = await client.effect(
                fitted.model_id, treatment="X", target="Z", alternative=2.0, reference=1.0, seed=1
            )
            assert effect == pytest.approx(slope, rel=0.02)
            estimate = await client.estimate_effect(
                fitted.model_id, treatment="X", target="Z", alternative=2.0, reference=1.0, seed=1,
                confidence_level=0.9, num_bootstrap=40, decompose=True,
            )  # fmt: skip
            assert estimate.effect == pytest.approx(effect, rel=0.01)  # paired with an interval, DoWhy's alone
            assert estimate.interval is not None and slope in estimate.interval
            assert estimate.decomposition is not None and estimate.decomposition.mediators == ("Y",)
            assert estimate.decomposition.natural_direct_effect == 0.0  # no edge X -> Z
            intervals = await client.sample(fitted.model_id, {"X": 1.0}, nodes=["Z"], confidence_level=0.9, seed=1)
            assert intervals.statistics["Z"].mean_interval is not None
            assert await client.health() == "SERVING"
            assert (await client.server_info()).dowhy_version == "0.14"
            await client.delete_model(fitted.model_id)
            with pytest.raises(NotFoundError):
                await client.get_model(fitted.model_id)

    asyncio.run(run())


def test_errors_name_the_field_as_the_sync_client_does(server: ServerProcess) -> None:
    async def run() -> InvalidRequestError:
        async with AsyncClient(server.address, timeout=30) as client:
            request = fixture_case("linear_chain").request(r2_threshold=1.5)
            with pytest.raises(InvalidRequestError) as caught:
                await client.fit(request)
            return caught.value

    error = asyncio.run(run())
    assert error.fields() == ["config.r2_threshold"]


@pytest.fixture(scope="module")
def metered() -> Iterator[ServerProcess]:
    """A server of this module's own: the cancel test kills one of its workers."""
    process = start_server("--metrics-port", "0", workers=1)
    yield process
    assert process.terminate() == 0, process.log()


def test_closing_the_event_stream_cancels_the_fit_and_kills_its_worker(metered: ServerProcess) -> None:
    spawns = metered.metric("scmfit_worker_spawns_total")

    async def run() -> FitStatus:
        async with AsyncClient(metered.address, timeout=300) as client:
            events = client.fit_events(slow_request())
            async for event in events:
                if isinstance(event, FitProgress) and event.stage is Stage.FITTING:
                    break
            assert metered.metric("scmfit_in_flight") == 1
            await events.aclose()
            assert await asyncio.to_thread(wait_for, lambda: metered.metric("scmfit_in_flight") == 0)
            case = fixture_case("linear_chain")
            return (await client.fit(case.graph, case.traces, seed=fresh_seed())).status

    assert asyncio.run(run()) is FitStatus.SUCCESS
    assert wait_for(lambda: metered.metric("scmfit_worker_spawns_total") > spawns)  # the busy worker was replaced
