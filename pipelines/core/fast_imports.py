"""Start every driftloop process without recompiling Feast.

Feast decorates its classes with typeguard's `@typechecked`, which re-parses and recompiles their source
each time a process imports feast: about 7 of the 10 s `import feast` took on a 2-core machine. typeguard
documents the decorator as a development aid that production runs switch off (`python -O`, which would also
strip every assert); we switch off only the decorator, before anything imports feast. It matters beyond the
feature code: feast registers an MLflow request-header plugin, so the first registry call of any process
imports feast (every pipeline step, every CLI command that reads the registry).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any


def _unchecked(target: Any = None, **_options: Any) -> Any:
    """`@typechecked` and `@typechecked(...)` both leave the target as written."""
    if target is None:
        return lambda decorated: decorated
    return target


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds typeguard as the other finders would and makes its decorator a no-op as it loads: a process that
    never imports feast (the task launcher, a quick command) does not pay typeguard's own import (70 ms)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "typeguard":
            return None
        sys.meta_path.remove(self)  # once, and not for the lookup below
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader  # this module's own loader instance
        load = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            module.typechecked = _unchecked  # type: ignore[attr-defined]

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def skip_runtime_typechecks() -> None:
    """Make typeguard's decorator a no-op for modules imported from now on (feast is the only user)."""
    typeguard = sys.modules.get("typeguard")
    if typeguard is not None:
        typeguard.typechecked = _unchecked  # type: ignore[attr-defined]
    elif not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
