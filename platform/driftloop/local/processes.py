"""Start, track and stop our service processes, with every child they spawn.

Each service runs in its own session (process group), and its pid record keeps the process's start marker
(`process_identity`: its start in clock ticks since boot), so a recycled pid is never mistaken for ours, `down`
never kills a stranger, and a wall-clock step (suspend, NTP) does not make a running service look stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from driftloop.local.process_identity import is_same_process, start_marker
from driftloop.local.start_settings import StartSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessRecord:
    """What we remember about a running service, stored as `<run_dir>/<name>.json`.

    `create_time` is the wall-clock start psutil reported, for people; `start_marker` is what recognises the
    process (empty in records written before it existed, which fall back to `create_time`). `start_settings` is
    what the service was started with, as digests (None in records written before it existed)."""

    name: str
    pid: int
    create_time: float
    url: str
    health_url: str
    log_path: str
    command: list[str]
    start_marker: str = ""
    start_settings: StartSettings | None = None

    @classmethod
    def of(
        cls,
        process: psutil.Process,
        name: str,
        command: list[str],
        log_path: Path,
        url: str = "",
        health_url: str = "",
        start_settings: StartSettings | None = None,
    ) -> ProcessRecord:
        """The record of a process we just started (a service has a URL and a health check)."""
        return cls(
            name=name,
            pid=process.pid,
            create_time=process.create_time(),
            url=url,
            health_url=health_url,
            log_path=str(log_path),
            command=command,
            start_marker=start_marker(process.pid),
            start_settings=start_settings,
        )

    def save(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / f"{self.name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the platform's user's alone
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ProcessRecord | None:
        try:
            data = json.loads(path.read_text())
            if data.get("start_settings") is not None:
                data["start_settings"] = StartSettings(**data["start_settings"])
            return cls(**data)
        except (OSError, ValueError, TypeError, AttributeError):
            return None


def record_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.json"


def load_records(run_dir: Path) -> list[ProcessRecord]:
    if not run_dir.is_dir():
        return []
    records = (ProcessRecord.load(path) for path in sorted(run_dir.glob("*.json")))
    return [record for record in records if record is not None]


def _process_of(record: ProcessRecord) -> psutil.Process | None:
    """The live process the record describes, or None when it has exited (or its pid was reused)."""
    try:
        process = psutil.Process(record.pid)
        if record.start_marker:
            if not is_same_process(record.pid, record.start_marker):
                return None
        elif abs(process.create_time() - record.create_time) > 1.0:  # a record from before start markers
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


def is_alive(record: ProcessRecord) -> bool:
    return _process_of(record) is not None


# Importing feast points these at a temporary folder of its own (and turns prometheus_client's multiprocess
# mode on for any process that inherits them); the folder is deleted when that process exits, so a child
# started by it (a retraining run submitted by `monitor run`) would fail on its first metric.
FEAST_METRICS_VARIABLES = ("PROMETHEUS_MULTIPROCESS_DIR", "PROMETHEUS_MULTIPROC_DIR")
FEAST_METRICS_PREFIX = "feast_metrics_"


def child_environment(env: dict[str, str]) -> dict[str, str]:
    """`env` without what an imported library set for its own process only (feast's metrics folder)."""
    return {
        name: value
        for name, value in env.items()
        if not (name in FEAST_METRICS_VARIABLES and Path(value).name.startswith(FEAST_METRICS_PREFIX))
    }


def spawn(command: list[str], log_path: Path, env: dict[str, str]) -> psutil.Popen:
    """Start command in a new session with stdout and stderr appended to log_path.

    The Popen itself is returned, not just its pid: Python's subprocess module reaps a dropped Popen's finished
    child the next time any Popen starts, after which nobody can read its exit status (a psutil wait on the pid
    then returns None). Keeping it lets `wait()` return the real code."""
    env = child_environment(env)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        popen = psutil.Popen(  # noqa: S603 - our own CLI, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    logger.debug("started %s as pid %d", command, popen.pid)
    return popen


def _tree(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return [process]


def _session_members(session_id: int) -> list[psutil.Process]:
    """Every live process still in the session we created (children that were reparented included)."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session_id:
                members.append(process)
        except (OSError, psutil.Error):
            continue
    return members


def session_rss_bytes(record: ProcessRecord) -> int:
    """Resident memory of the service and everything in its session (workers, job runners): what it costs."""
    total = 0
    for process in _session_members(record.pid):
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def stop_tree(record: ProcessRecord, timeout: float) -> None:
    """SIGTERM the service, then whatever of its session is left once it has gone (or after half the timeout),
    then SIGKILL whatever outlives the timeout.

    The service first, alone: a supervisor such as `ray start --block` stops its own processes in order (Ray's
    node drains, then ends its GCS and raylet) and is confused, and slow, when they all get the signal at once.
    """
    root = _process_of(record)
    if root is None:
        return
    session_id = record.pid
    started = time.monotonic()
    with contextlib.suppress(psutil.Error):
        root.send_signal(signal.SIGTERM)
    psutil.wait_procs([root], timeout=timeout / 2)
    victims = {p.pid: p for p in _tree(root) + _session_members(session_id)}
    for process in victims.values():
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGTERM)
    remaining = max(0.0, timeout - (time.monotonic() - started))
    _, alive = psutil.wait_procs(list(victims.values()), timeout=remaining)
    survivors = {p.pid: p for p in alive + _session_members(session_id)}
    for process in survivors.values():
        logger.warning("%s (pid %d) ignored SIGTERM; killing it", record.name, process.pid)
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(list(survivors.values()), timeout=5)
