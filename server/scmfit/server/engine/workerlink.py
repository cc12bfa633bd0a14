"""The one channel from worker processes to the main process: spawns, warmth, heartbeats and progress.

Workers send small JSON datagrams to a Unix socket in a private directory. A datagram needs no
shared lock, so a worker killed mid-send cannot wedge the channel for the others (a shared pipe or a
multiprocessing queue can), and there is no manager process to outlive a killed server.

The main side counts every spawn (the restart metric), knows which workers are warm (readiness),
and kills a worker whose heartbeat stops (a SIGSTOPped or wedged process); the worker side exits
when its parent dies, so a SIGKILLed server leaves no orphans.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scmfit.server.engine.progress import ProgressChannels

_log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
"""How often a worker says it is alive, and checks that its parent is."""
DEFAULT_STALL_SECONDS = 30.0
"""A worker silent this long is killed and replaced; generous, since a heartbeat needs the GIL."""
_WATCH_SECONDS = 0.5


def _process_state(pid: int) -> str | None:
    """The state letter from /proc (R, S, T, Z, ...), or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


class WorkerLink:
    """The main process's end; one per executor."""

    def __init__(
        self,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        on_spawn: Callable[[int], None] | None = None,
        on_stall: Callable[[], None] | None = None,
    ) -> None:
        self._directory = tempfile.mkdtemp(prefix="scmfit-")  # 0700: only this user can send to it
        self.address = os.path.join(self._directory, "link")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.address)
        self._socket.settimeout(_WATCH_SECONDS)
        self._stall_seconds = stall_seconds
        self._on_spawn = on_spawn
        self._on_stall = on_stall
        self._lock = threading.Lock()
        self.channels = ProgressChannels()
        """Where the progress of each fit run's tasks arrives."""
        self._last_beat: dict[int, float] = {}
        self._warm: set[int] = set()
        self.spawns = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="scmfit-worker-link", daemon=True)
        self._thread.start()

    def warm_workers(self) -> int:
        """Workers that finished warming up, are alive, not stopped, and have beaten recently."""
        now = time.monotonic()
        with self._lock:
            warm = [pid for pid in self._warm if now - self._last_beat.get(pid, 0.0) < self._stall_seconds]
        return sum(1 for pid in warm if _process_state(pid) not in (None, "Z", "T", "t"))

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        self._socket.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def _serve(self) -> None:
        next_watch = time.monotonic() + _WATCH_SECONDS
        while not self._closed.is_set():
            try:
                self._handle(json.loads(self._socket.recv(65536)))
            except TimeoutError:
                pass
            except (OSError, ValueError, KeyError, TypeError) as error:
                if self._closed.is_set():
                    return
                _log.warning("dropped a malformed worker message: %s", error)
            if time.monotonic() >= next_watch:
                self._watch()
                next_watch = time.monotonic() + _WATCH_SECONDS

    def _handle(self, message: dict[str, Any]) -> None:
        kind, pid = message["t"], int(message["pid"])
        if kind == "progress":
            self.channels.deliver(str(message["run"]), str(message["stage"]), str(message["node"]))
            return
        with self._lock:
            self._last_beat[pid] = time.monotonic()
            if kind == "warm":
                self._warm.add(pid)
        if kind == "spawn":
            self.spawns += 1
            if self._on_spawn is not None:
                self._on_spawn(self.spawns)

    def _watch(self) -> None:
        """Forgets dead workers and kills silent ones; the pool then starts a replacement."""
        now = time.monotonic()
        with self._lock:
            beats = dict(self._last_beat)
        for pid, last in beats.items():
            state = _process_state(pid)
            if state is None or state == "Z":
                self._forget(pid)
            elif now - last > self._stall_seconds:
                _log.error("worker %d sent no heartbeat for %.0fs (state %s); killing it", pid, now - last, state)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                self._forget(pid)
                if self._on_stall is not None:
                    self._on_stall()

    def _forget(self, pid: int) -> None:
        with self._lock:
            self._last_beat.pop(pid, None)
            self._warm.discard(pid)


class WorkerSide:
    """A worker's end: sends to the main process, beats, and exits when the main process is gone."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._parent = os.getppid()
        self.send("spawn")
        threading.Thread(target=self._beat, name="scmfit-heartbeat", daemon=True).start()

    def send(self, kind: str, **fields: str) -> None:
        """Best effort: a lost progress line must never fail a fit."""
        try:
            self._socket.sendto(json.dumps({"t": kind, "pid": os.getpid(), **fields}).encode(), self._address)
        except OSError as error:
            if kind != "progress":
                _log.debug("worker link: %s", error)

    def _beat(self) -> None:
        while True:
            if os.getppid() != self._parent:  # reparented: the server died without stopping us
                os._exit(70)
            self.send("beat")
            time.sleep(HEARTBEAT_SECONDS)
