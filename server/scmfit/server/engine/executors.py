"""The executors a server can run fits on, registered by name: `--executor NAME` picks one.

Every server has local worker processes (they answer queries, and on the local executor fit too); a
registered executor receives them and may run fits elsewhere. Adding one is a `register` call here
plus a class that keeps the cancellation contract written on `FitRun`, `QueryRun` and `TaskPool`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scmfit.server.config import ServerConfig
from scmfit.server.engine.executor import ManagedExecutor, ProcessFitExecutor


@dataclass(frozen=True)
class ExecutorKind:
    """How one executor is built from the server's config and its local workers."""

    name: str
    build: Callable[[ServerConfig, ProcessFitExecutor], ManagedExecutor]
    fits_locally: bool
    """Whether fits use the local workers (which then need a fit share and no extra query workers)."""
    help: str


EXECUTORS: dict[str, ExecutorKind] = {}


def register(kind: ExecutorKind) -> None:
    EXECUTORS[kind.name] = kind


def _ray(config: ServerConfig, local: ProcessFitExecutor) -> ManagedExecutor:
    """Imported only here: Ray is an optional extra, and the local executor never needs it."""
    try:
        from scmfit.server.engine.ray_executor import RayFitExecutor
    except ImportError as error:
        raise SystemExit(
            f"--executor ray needs Ray, the ray extra: pip install '.[server,ray]' in a clone, "
            f"or '<wheel>[server,ray]' ({error})"
        ) from None
    if config.ray_address is None:
        raise ValueError("the Ray executor needs ray_address")
    return RayFitExecutor(config.ray_address, local, warm_up=config.warm_up)


register(ExecutorKind("local", lambda config, local: local, fits_locally=True, help="local worker processes"))
register(ExecutorKind("ray", _ray, fits_locally=False, help="a Ray cluster (the ray extra)"))


def build_executor(config: ServerConfig, local: ProcessFitExecutor) -> ManagedExecutor:
    """The configured executor; the local workers are closed when it cannot be built."""
    try:
        return EXECUTORS[config.executor].build(config, local)
    except BaseException:
        local.close()
        raise
