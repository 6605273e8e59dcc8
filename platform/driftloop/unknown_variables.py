"""`DRIFTLOOP_*` variables no setting reads: pydantic-settings ignores them, so a typo would change nothing silently.

The CLI names each one when it starts (a warning, never an error: a stale variable in a shell must not stop
a command), with the setting it most likely meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.core.settings import ENV_PREFIX, RETIRED_VARIABLES, Settings, env_var_name
from pipelines.data.crash_points import CRASH_AT_VARIABLE

# Variables of ours that are read outside the settings object, so their name is no typo.
NOT_SETTINGS = frozenset(
    {
        CRASH_AT_VARIABLE,  # fault tests kill a writer at a named step (pipelines/data/crash_points.py)
        "DRIFTLOOP_PARITY_KEEP",  # the parity harness keeps its run folder (tests/parity/conftest.py)
        "DRIFTLOOP_VERSION",  # the image tag the cluster's up.sh builds (a shell variable a user may export)
    }
)


@dataclass(frozen=True)
class UnknownVariable:
    """A `DRIFTLOOP_*` variable no setting reads, and the setting's variable its name is closest to, if any."""

    name: str
    suggestion: str | None

    @property
    def message(self) -> str:
        hint = f"; did you mean {self.suggestion}?" if self.suggestion else ""
        return f"{self.name} is not a driftloop setting and is ignored{hint}"


def setting_variables() -> list[str]:
    """Every variable the settings object reads."""
    return [env_var_name(name) for name in Settings.model_fields]


def unknown_variables(environment: Mapping[str, str]) -> list[UnknownVariable]:
    """The environment's `DRIFTLOOP_*` variables that nothing reads, in name order. Names are compared in upper
    case, as pydantic-settings matches them; a retired name is left to the settings, which refuse it."""
    known = set(setting_variables())
    ignored = known | NOT_SETTINGS | set(RETIRED_VARIABLES)
    suffixes = sorted(name.removeprefix(ENV_PREFIX) for name in known)  # the shared prefix would match anything
    found = []
    for name in sorted(environment):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in ignored:
            continue
        close = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), suffixes, n=1)
        found.append(UnknownVariable(name, ENV_PREFIX + close[0] if close else None))
    return found
