"""Start every driftloop process without recompiling Feast.

Feast decorates its classes with typeguard's `@typechecked`, which re-parses and recompiles their source
each time a process imports feast: about 7 of the 10 s `import feast` took on a 2-core machine. typeguard
documents the decorator as a development aid that production runs switch off (`python -O`, which would also
strip every assert); we switch off only the decorator, before anything imports feast. It matters beyond the
feature code: feast registers an MLflow request-header plugin, so the first registry call of any process
imports feast (every pipeline step, every CLI command that reads the registry).
"""

from __future__ import annotations

from typing import Any


def _unchecked(target: Any = None, **_options: Any) -> Any:
    """`@typechecked` and `@typechecked(...)` both leave the target as written."""
    if target is None:
        return lambda decorated: decorated
    return target


def skip_runtime_typechecks() -> None:
    """Make typeguard's decorator a no-op for modules imported from now on (feast is the only user)."""
    try:
        import typeguard
    except ImportError:  # feast not installed in this environment: nothing to speed up
        return
    typeguard.typechecked = _unchecked
