"""Test-only crash points: a test kills a writer at a named step to prove the step is safe to die in.

A fault test runs a command with `DRIFTLOOP_TEST_ONLY_CRASH_AT=<point>` and the process SIGKILLs itself when it
reaches that point, exactly as an OOM kill or a node loss would stop it there (no cleanup, no `finally`). Unset,
as everywhere outside those tests, a point costs one dictionary lookup. The variable is no setting: nothing
reads it but `crash_point`.
"""

from __future__ import annotations

import os
import signal

CRASH_AT_VARIABLE = "DRIFTLOOP_TEST_ONLY_CRASH_AT"


def crash_point(name: str) -> None:
    """SIGKILL this process here when the test-only variable names this point."""
    if os.environ.get(CRASH_AT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
