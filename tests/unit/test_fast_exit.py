"""A process of ours ends without the interpreter's final sweep of its heap, and after its other exit handlers."""

import subprocess
import sys

# The handler registered before `pipelines` runs after ours (exit handlers run last-in, first-out); the one
# registered after runs before it, so both see the heap as the process ends.
PROBE = """
import atexit, gc
atexit.register(lambda: print("after", gc.get_freeze_count() > 0))
import pipelines.data.schema
atexit.register(lambda: print("before", gc.get_freeze_count() > 0))
"""


def test_the_heap_is_frozen_last_at_exit() -> None:
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert probe.stdout.split("\n")[:2] == ["before False", "after True"], probe.stdout
