"""GetServerInfo reports every limit the server enforces: each ServerLimits field is filled."""

from __future__ import annotations

from scmfit.server.config import Limits
from scmfit.server.domain.settings import Quality
from scmfit.server.wire.encode import AdmissionLimits, WorkerShares, server_info


def test_every_server_limit_is_reported_with_its_value() -> None:
    limits = Limits()
    admission = AdmissionLimits(
        registry_bytes=11, max_concurrent=12, max_queue=13, default_fit_deadline=14.0,
        max_concurrent_queries=15, max_query_queue=16, max_calls_per_peer=17, max_streams_per_connection=18,
        request_read_seconds=19.0, connection_idle_seconds=20.0, connection_max_age_seconds=21.0,
    )  # fmt: skip
    info = server_info(limits, [Quality.GOOD], WorkerShares(2, 1, 0.5, 1), admission)
    reported = info.limits
    unset = [
        field.name
        for field in reported.DESCRIPTOR.fields
        if (not reported.HasField(field.name) if field.message_type else getattr(reported, field.name) == 0)  # type: ignore[arg-type]
    ]
    assert unset == []
    assert (reported.max_registry_bytes, reported.max_concurrent, reported.max_queue) == (11, 12, 13)
    assert (reported.max_concurrent_queries, reported.max_query_queue) == (15, 16)
    assert (reported.max_calls_per_peer, reported.max_streams_per_connection) == (17, 18)
    durations = (reported.request_read_timeout, reported.connection_idle_timeout, reported.connection_max_age)
    assert [d.ToTimedelta().total_seconds() for d in durations] == [19.0, 20.0, 21.0]
    assert (info.workers, info.query_workers, info.fit_share, info.fit_workers) == (2, 1, 0.5, 1)
    assert reported.default_fit_deadline.ToTimedelta().total_seconds() == 14.0
    assert reported.upload_idle_timeout.ToTimedelta().total_seconds() == limits.upload_idle_seconds
    assert (reported.max_rows, reported.max_sample_cells, reported.max_uploads) == (
        limits.max_rows,
        limits.max_sample_cells,
        limits.max_uploads,
    )
