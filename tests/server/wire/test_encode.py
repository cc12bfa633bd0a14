"""GetServerInfo reports every limit the server enforces: each ServerLimits field is filled."""

from __future__ import annotations

from scmfit.server.config import Limits, Quality
from scmfit.server.wire.encode import AdmissionLimits, server_info


def test_every_server_limit_is_reported_with_its_value() -> None:
    limits = Limits()
    admission = AdmissionLimits(
        registry_bytes=11, max_concurrent=12, max_queue=13, default_fit_deadline=14.0,
        max_concurrent_queries=15, max_query_queue=16,
    )  # fmt: skip
    reported = server_info(limits, [Quality.GOOD], 2, admission).limits
    unset = [
        field.name
        for field in reported.DESCRIPTOR.fields
        if (not reported.HasField(field.name) if field.message_type else getattr(reported, field.name) == 0)  # type: ignore[arg-type]
    ]
    assert unset == []
    assert (reported.max_registry_bytes, reported.max_concurrent, reported.max_queue) == (11, 12, 13)
    assert (reported.max_concurrent_queries, reported.max_query_queue) == (15, 16)
    assert reported.default_fit_deadline.ToTimedelta().total_seconds() == 14.0
    assert reported.upload_idle_timeout.ToTimedelta().total_seconds() == limits.upload_idle_seconds
    assert (reported.max_rows, reported.max_sample_cells, reported.max_uploads) == (
        limits.max_rows,
        limits.max_sample_cells,
        limits.max_uploads,
    )
