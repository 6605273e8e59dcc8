"""One way into Ray for every job that uses it (the `ray` feature engine, the hyperparameter search): join the
cluster `DRIFTLOOP_RAY_ADDRESS` names, or the Ray the local runner started for its run (`ray_holder`), or start a
local Ray bounded by the settings' CPUs and object store and stop it afterwards, so no process outlives the job.
A Ray this process already runs is used as it is.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.core.handoff import Handoff
from pipelines.core.settings import Settings

logger = logging.getLogger(__name__)

# `<holder pid>:<address file>`: the Ray a local training run started for its steps (not a setting: no DRIFTLOOP_
# prefix; only the runner sets it, for its tasks).
HOLDER_VARIABLE = "_DRIFTLOOP_RAY_HOLDER"
HOLDER_WAIT_S = 60.0  # a holder still starting is waited for; one that has died or failed is not

# A Unix socket's path holds at most 107 bytes, and Ray puts its sockets at
# <temp dir>/session_<date>_<time>_<microseconds>_<pid>/sockets/plasma_store: about 90 bytes below the root
# the temporary directory is made in.
UNIX_SOCKET_PATH_MAX = 107
RAY_SOCKET_SUFFIX = len("/driftloop-ray-xxxxxxxx/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store")


def short_temp_root(preferred: str | None = None, fallback: str = "/tmp") -> str | None:
    """Where a local Ray's session can live with its sockets' paths under the limit: the temporary folder when
    its path is short enough, else `/tmp` (macOS's per-user folder and a test's deep TMPDIR are too long: Ray
    failed to start there, 'AF_UNIX path length cannot exceed 107 bytes'); None lets Python choose."""
    root = preferred or tempfile.gettempdir()
    if len(root) + RAY_SOCKET_SUFFIX <= UNIX_SOCKET_PATH_MAX:
        return root
    if os.path.isdir(fallback) and os.access(fallback, os.W_OK | os.X_OK):
        logger.debug("the temporary folder %s is too deep for Ray's sockets: using %s", root, fallback)
        return fallback
    return None


def held_ray_address(variable: str | None = None) -> str | None:
    """The address of the run's held Ray, once it is ready; None without one, or when it died or failed."""
    holder = Handoff.parse(variable if variable is not None else os.environ.get(HOLDER_VARIABLE, ""))
    if holder is None or not holder.ready(HOLDER_WAIT_S):
        return None
    return Path(holder.path).read_text().strip() or None


@contextmanager
def ray_runtime(settings: Settings, object_store_mib: int | None = None) -> Iterator[int]:
    """Ray, ready for tasks and actors; yields the CPUs it offers. `object_store_mib` bounds a local Ray's object
    store below the settings' (a job that moves little data starts faster with a small one)."""
    import ray

    if ray.is_initialized():  # someone in this process (a test, a caller) owns it: use it, leave it running
        yield int(ray.cluster_resources().get("CPU", 1))
        return
    with tempfile.TemporaryDirectory(prefix="driftloop-ray-", dir=short_temp_root()) as temporary:
        address = settings.ray_address or held_ray_address()
        if address:
            logger.info("joining the Ray cluster at %s", address)
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        else:
            store_mib = min(object_store_mib or settings.ray_object_store_mib, settings.ray_object_store_mib)
            logger.info("starting a local Ray: %d CPUs, %d MiB object store", settings.ray_cpus, store_mib)
            ray.init(
                num_cpus=settings.ray_cpus,
                object_store_memory=store_mib * 2**20,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                _temp_dir=temporary,
            )
        try:
            yield int(ray.cluster_resources().get("CPU", 1))
        finally:
            ray.shutdown()
