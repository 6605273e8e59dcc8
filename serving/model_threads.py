"""One OpenMP thread per prediction in the model servers.

scikit-learn's gradient boosting opens an OpenMP parallel region per tree. For a one-row request that buys
nothing (the call costs the same ~3.6 ms with one thread), but every region is a barrier between threads, and
on a busy laptop, where the platform, the load and the server share two cores, a descheduled OpenMP worker
turns each barrier into a wait for a time slice: requests took 2 s instead of 10 ms. Server-side concurrency
comes from requests, not from threads inside one prediction.
"""

from __future__ import annotations

import os

MODEL_THREADS = "1"


def one_model_thread() -> None:
    """Cap OpenMP at one thread unless the user set OMP_NUM_THREADS; call before scikit-learn is imported,
    because the OpenMP runtime reads it once, when it loads."""
    os.environ.setdefault("OMP_NUM_THREADS", MODEL_THREADS)
