"""`driftloop local up|down|status`: bring the local platform up, report on it, take it down.

`up` is idempotent (a running service is reported, not restarted), checks every port before it
starts anything, and rolls back what it started when a service fails to become healthy. A running service that was
started with other values of the settings it reads is not kept silently: `up` names them and stops, or with
`restart` restarts just that service (and stops a model server of the other serving topology).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil

from driftloop.local import processes
from driftloop.local.health import probe, wait_until_healthy
from driftloop.local.ports import port_is_free
from driftloop.local.processes import ProcessRecord
from driftloop.local.services import MODEL_SERVERS, RAY_HEAD, ServiceSpec, local_services
from driftloop.local.start_settings import StartSettings
from pipelines.core.credentials import load_credentials
from pipelines.core.errors import CommandFailedError, PortInUseError, ServiceStartError, SettingsChangedError
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings, env_var_name, settings_environment

logger = logging.getLogger(__name__)

State = Literal["running", "unhealthy", "stopped"]
Reporter = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    """One service as `local status` reports it."""

    name: str
    url: str
    pid: int | None
    state: State
    healthy: bool
    log: str
    rss_mib: float | None = None  # resident memory of the service's whole session (None when stopped)


@dataclass
class UpResult:
    """Which services `local up` started (`restarted` among them: those it stopped first, for changed settings),
    which were already running, and which it stopped for good (`retired`: a model server of the other serving
    topology)."""

    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def driftloop_command() -> list[str]:
    """How to run our own CLI from here: the venv's `driftloop` script, else `python -m driftloop`."""
    script = Path(sys.executable).with_name("driftloop")
    return [str(script)] if script.exists() else [sys.executable, "-m", "driftloop"]


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class LocalPlatform:
    """The local platform described by one settings object."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = Layout.from_settings(settings)
        self.services = local_services(settings)

    def _log_path(self, name: str) -> Path:
        return self.layout.logs / f"{name}.log"

    def child_env(self) -> dict[str, str]:
        """What every service and CLI call of this platform runs with: these settings, whatever the caller's
        environment says."""
        env = processes.child_environment(settings_environment(self.settings, os.environ))
        env["PYTHONUNBUFFERED"] = "1"
        if any(spec.name == RAY_HEAD for spec in self.services):
            env[env_var_name("ray_address")] = self.settings.local_ray_address
        return env

    def _live_record(self, name: str) -> ProcessRecord | None:
        record = ProcessRecord.load(processes.record_path(self.layout.run, name))
        if record is None:
            return None
        if processes.is_alive(record):
            return record
        processes.record_path(self.layout.run, name).unlink(missing_ok=True)
        return None

    def up(self, report: Reporter = logger.info, restart: bool = False) -> UpResult:
        """Start every service that is not running yet and wait until each answers its health check.

        A running service started with other values of the settings it reads raises SettingsChangedError before
        anything starts; with `restart` it is stopped and started again with these settings instead."""
        for folder in (self.layout.logs, self.layout.run):
            folder.mkdir(parents=True, exist_ok=True)
        load_credentials(self.settings)  # the API tokens exist before any server or client asks for them
        result = UpResult()
        to_start, stale = self._sort_services(result, report)
        if stale and not restart:
            raise SettingsChangedError({name: changed for name, (_, changed) in stale.items()})
        self._check_ports(to_start, stale)
        starting = {spec.name for spec in to_start}
        for name, (record, changed) in stale.items():
            processes.stop_tree(record, self.settings.stop_timeout_s)
            processes.record_path(self.layout.run, name).unlink(missing_ok=True)
            if name in starting:
                report(f"{name}: restarting (started with other {', '.join(changed)})")
                result.restarted.append(name)
            else:
                report(f"{name}: stopped (the {self.settings.serving_topology} serving topology runs no {name})")
                result.retired.append(name)
        if not to_start:
            return result

        started: list[ProcessRecord] = []
        try:
            apply_process = self._start_feature_apply(report)
            first = [spec for spec in to_start if spec.name == RAY_HEAD]  # the others' jobs join it at once
            for group in (first, [spec for spec in to_start if spec not in first]):
                records = [self._start(spec, report) for spec in group]
                started += records
                for spec, record in zip(group, records, strict=True):
                    self._await_health(spec, record, report)
                    result.started.append(spec.name)
            self._await_feature_apply(apply_process)
            report("feast: feature repo applied")
        except BaseException:
            for record in started:
                processes.stop_tree(record, self.settings.stop_timeout_s)
                processes.record_path(self.layout.run, record.name).unlink(missing_ok=True)
            raise
        return result

    def _sort_services(
        self, result: UpResult, report: Reporter
    ) -> tuple[list[ServiceSpec], dict[str, tuple[ProcessRecord, list[str]]]]:
        """The services to start (in order), and the stale ones: among them those running, started with other
        values of the settings they read (their record and those settings' names), and a model server running
        that these settings do not start (the other serving topology's). The others go to `already_running`."""
        environment = self.child_env()
        to_start: list[ServiceSpec] = []
        stale: dict[str, tuple[ProcessRecord, list[str]]] = {}
        for spec in self.services:
            record = self._live_record(spec.name)
            changed = [] if record is None else self._changed_settings(spec, record, environment, report)
            if record is not None and not changed:
                result.already_running.append(spec.name)
                continue
            to_start.append(spec)
            if record is not None:
                stale[spec.name] = (record, changed)
        for name in set(MODEL_SERVERS).difference(spec.name for spec in self.services):
            if (record := self._live_record(name)) is not None:
                stale[name] = (record, [env_var_name("serving_topology")])
        return to_start, stale

    @staticmethod
    def _check_ports(to_start: list[ServiceSpec], stale: dict[str, tuple[ProcessRecord, list[str]]]) -> None:
        stopping = {record.url for record, _ in stale.values()}  # free once their services are stopped
        for spec in to_start:
            if spec.url not in stopping and not port_is_free(spec.host, spec.port):
                raise PortInUseError(spec.name, spec.host, spec.port, env_var_name(spec.port_setting))

    @staticmethod
    def _changed_settings(
        spec: ServiceSpec, record: ProcessRecord, environment: dict[str, str], report: Reporter
    ) -> list[str]:
        """The settings `spec` reads whose value differs from the one its running process was started with."""
        if record.start_settings is None:
            report(f"{spec.name}: its start settings were not recorded (an older driftloop started it)")
            return []
        return record.start_settings.changed(environment, spec.reads)

    def _start(self, spec: ServiceSpec, report: Reporter) -> ProcessRecord:
        command = [*driftloop_command(), *spec.cli_args]
        log_path = self._log_path(spec.name)
        environment = self.child_env()
        process = processes.spawn(command, log_path, environment)
        start_settings = StartSettings.of(environment, spec.reads)
        record = ProcessRecord.of(process, spec.name, command, log_path, spec.url, spec.health_url, start_settings)
        record.save(self.layout.run)
        report(f"{spec.name}: starting (pid {process.pid}, log {log_path})")
        return record

    def _await_health(self, spec: ServiceSpec, record: ProcessRecord, report: Reporter) -> None:
        healthy = wait_until_healthy(
            spec.health_url, self.settings.startup_timeout_s, lambda: processes.is_alive(record)
        )
        if not healthy:
            why = (
                "exited"
                if not processes.is_alive(record)
                else (f"did not answer {spec.health_url} within {self.settings.startup_timeout_s:.0f}s")
            )
            tail = _tail(Path(record.log_path))
            raise ServiceStartError(f"{spec.name} {why}; see {record.log_path}\n{tail}".rstrip())
        report(f"{spec.name}: healthy at {spec.url}")

    def _start_feature_apply(self, report: Reporter) -> psutil.Popen:
        report("feast: applying the feature repo")
        command = [*driftloop_command(), "features", "apply"]
        return processes.spawn(command, self._log_path("feast-apply"), self.child_env())

    def _await_feature_apply(self, process: psutil.Popen) -> None:
        code = process.wait(timeout=self.settings.startup_timeout_s)
        if code != 0:
            log_path = self._log_path("feast-apply")
            raise CommandFailedError(f"feast apply failed (exit {code}); see {log_path}\n{_tail(log_path)}")

    def status(self) -> list[ServiceStatus]:
        """Every service with its URL, pid and health, running or not."""
        statuses = []
        for spec in self.services:
            record = self._live_record(spec.name)
            healthy = record is not None and probe(spec.health_url)
            state: State = "stopped" if record is None else ("running" if healthy else "unhealthy")
            statuses.append(
                ServiceStatus(
                    name=spec.name,
                    url=spec.url,
                    pid=record.pid if record else None,
                    state=state,
                    healthy=healthy,
                    log=str(self._log_path(spec.name)),
                    rss_mib=round(processes.session_rss_bytes(record) / 2**20, 1) if record else None,
                )
            )
        return statuses

    def down(self, report: Reporter = logger.info) -> list[str]:
        """Stop every service we started (and its children); returns the names stopped."""
        stopped = []
        for record in processes.load_records(self.layout.run):
            if processes.is_alive(record):
                report(f"{record.name}: stopping (pid {record.pid})")
                processes.stop_tree(record, self.settings.stop_timeout_s)
                stopped.append(record.name)
            processes.record_path(self.layout.run, record.name).unlink(missing_ok=True)
        return stopped


def join_platform_ray(settings: Settings) -> None:
    """Point this process and its children at the local platform's Ray head when one is running and the
    engine is `ray` with no address set: a command a user types joins it as the platform's own jobs do."""
    if settings.feature_engine != "ray" or settings.ray_address:
        return
    record = ProcessRecord.load(processes.record_path(Layout.from_settings(settings).run, RAY_HEAD))
    if record is not None and processes.is_alive(record):
        os.environ[env_var_name("ray_address")] = settings.local_ray_address
