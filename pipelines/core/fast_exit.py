"""End every driftloop process without a last sweep of its whole heap.

At exit CPython runs the cyclic garbage collector over every object still alive: with MLflow, Feast and
scikit-learn imported that is about half a million objects and 0.4-0.5 s on a 2-core machine, paid by each CLI
command, drift check and KFP task (a training run has seven). Freezing the heap as the last exit handler moves
those objects out of the collector's reach; module teardown and reference counting still free them, every other
exit handler (log handlers' flush, the prediction log's, temporary folders') has run before, and a process's
files and sockets close with it. What is lost is only a finalizer on garbage held in a reference cycle, which
Python does not promise to run at exit anyway.
"""

from __future__ import annotations

import atexit
import gc


def skip_final_collection() -> None:
    """Freeze the heap when the process exits, after the exit handlers registered later (they run first)."""
    atexit.register(gc.freeze)
