"""One exception base for driftloop; the CLI turns it into a one-line message and an exit code."""

from __future__ import annotations


class DriftloopError(Exception):
    """An error a user can act on: the message says what failed and what to do."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PortInUseError(DriftloopError):
    """A service cannot start because something else listens on its port."""

    def __init__(self, service: str, host: str, port: int, env_var: str) -> None:
        super().__init__(f"port {port} on {host} is taken, so {service} cannot start; set {env_var} to move it")
        self.port = port


class SettingsChangedError(DriftloopError):
    """Running services were started with other settings than the current ones: `local up` would keep them stale.
    `changed` maps each such service to the names of the environment variables that differ (never their values)."""

    def __init__(self, changed: dict[str, list[str]]) -> None:
        lines = [f"  {service}: {', '.join(names)}" for service, names in changed.items()]
        super().__init__(
            f"{len(changed)} running service(s) were started with other values of these settings:\n"
            + "\n".join(lines)
            + "\nto apply them: `driftloop local up --restart` (restarts just these), "
            "or `driftloop local down` then `driftloop local up`"
        )
        self.changed = changed


class ServiceStartError(DriftloopError):
    """A service process exited or never became healthy."""


class CommandFailedError(DriftloopError):
    """A one-shot driftloop command run as a subprocess failed."""


class RegistryUnreachableError(DriftloopError):
    """The MLflow registry did not answer: not the same as a registry without a champion."""

    def __init__(self, tracking_uri: str, detail: str) -> None:
        super().__init__(f"the model registry at {tracking_uri} is not reachable ({detail}); is MLflow up?")
        self.tracking_uri = tracking_uri


class DependencyUnreachableError(DriftloopError):
    """A service a command needs (the online store, the KFP API) did not answer."""

    def __init__(self, what: str, address: str, detail: str, setting: str) -> None:
        super().__init__(f"{what} at {address} is not reachable ({detail}); is it up? (set by {setting})")
        self.address = address
