"""A kfp.local run at the console: one line per step, the executor output in a log file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pipelines.core.layout import Layout
from pipelines.core.settings import Settings

T = TypeVar("T")


def with_step_progress(settings: Settings, label: str, run: Callable[[Path | None], T]) -> T:
    """Call `run(log)` with kfp.local's executor output sent to a log file and one line per step on the console
    (with -v, kfp.local's own output as it comes, and no log file)."""
    from rich.console import Console

    from driftloop.pipeline_runs.step_progress import StepFollower, output_to  # lazy: --help budget

    if logging.getLogger().isEnabledFor(logging.DEBUG):
        return run(None)
    log_path = Layout.from_settings(settings).logs / f"{label}-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    with output_to(log_path) as terminal:
        console = Console(file=terminal, soft_wrap=True)
        console.print(f"{label} pipeline (kfp.local); executor output: {log_path}")
        with console.status("starting…") as spinner, StepFollower(log_path, console.print, spinner.update):
            return run(log_path)
