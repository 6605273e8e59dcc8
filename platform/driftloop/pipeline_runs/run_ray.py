"""The Ray a local training run's steps join, started with the run while its first steps work.

A searching run (and any run of the `ray` feature engine) needs a Ray; started inside the step it cost the run
about 4 s (start and stop) on its critical path. The runner starts `pipelines.core.ray_holder` before the first
task and its steps join it (`pipelines.core.ray_runtime`); a configured `DRIFTLOOP_RAY_ADDRESS` (a cluster's, or
the local platform's) is joined as before, and a holder that failed leaves the step to start its own.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from pipelines.core.handoff import Handoff
from pipelines.core.ray_holder import stop_marker
from pipelines.core.ray_runtime import HOLDER_VARIABLE, short_temp_root
from pipelines.core.settings import Settings
from pipelines.core.training_request import TrainingRequest

logger = logging.getLogger(__name__)

STOP_WAIT_S = 20.0  # Ray's own shutdown takes 1-2 s


def needs_ray(settings: Settings, request: TrainingRequest) -> bool:
    """Whether a step of this run will start a Ray of its own: it searches, or the feature engine is Ray, and no
    Ray address is configured."""
    return not settings.ray_address and (request.search_trials > 0 or settings.feature_engine == "ray")


def object_store_mib(settings: Settings) -> int:
    """What the step would have given its own Ray: the search's small store, the engine's when it computes."""
    from pipelines.training.search_tracking import SEARCH_OBJECT_STORE_MIB  # lazy: pulls MLflow

    if settings.feature_engine == "ray":
        return settings.ray_object_store_mib
    return min(SEARCH_OBJECT_STORE_MIB, settings.ray_object_store_mib)


@contextmanager
def run_ray(
    settings: Settings, request: TrainingRequest, environment: dict[str, str], log: Path, after: Handoff | None = None
) -> Iterator[None]:
    """While entered, kfp.local's tasks find a Ray started for this run (when it needs one), once `after` (the
    run's task host) is ready; or the Ray a longer-lived process holds for its runs (`HOLDER_VARIABLE` given in
    `environment`: the demo keeps one while it runs)."""
    if not needs_ray(settings, request) or shared_holder(environment) is not None:
        yield
        return
    with held_ray(settings, environment, log, after) as holder:
        os.environ[HOLDER_VARIABLE] = str(holder)
        try:
            yield
        finally:
            os.environ.pop(HOLDER_VARIABLE, None)


def shared_holder(environment: dict[str, str]) -> Handoff | None:
    """The Ray holder a longer-lived process passed down in `environment`, while it lives."""
    return Handoff.living(environment.get(HOLDER_VARIABLE, ""))


@contextmanager
def held_ray(
    settings: Settings, environment: dict[str, str], log: Path, after: Handoff | None = None
) -> Iterator[Handoff]:
    """While entered, a `pipelines.core.ray_holder` process starts a local Ray (once `after` is ready) and keeps
    it; yields the holder's handoff (its address file appears when the Ray is ready)."""
    with tempfile.TemporaryDirectory(prefix="driftloop-run-ray-", dir=short_temp_root()) as folder:
        address_file = Path(folder) / "address"
        command = [
            sys.executable, "-m", "pipelines.core.ray_holder", "--address-file", str(address_file),
            "--parent", str(os.getpid()), "--cpus", str(settings.ray_cpus),
            "--object-store-mib", str(object_store_mib(settings)), *(["--after", str(after)] if after else []),
        ]  # fmt: skip
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as output:
            # Its own process group: Ray's processes are its children, and stopping the group stops them all.
            holder = subprocess.Popen(
                command, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )  # fmt: skip
        logger.info("starting a Ray for the runs (holder %d, log %s)", holder.pid, log)
        try:
            yield Handoff(holder.pid, str(address_file))
        finally:
            # The stop marker tells the holder to shut its Ray down, or not to start it (Ray answers a SIGTERM to
            # its driver with a crash report instead of a shutdown).
            stop_marker(address_file).touch()
            address_file.unlink(missing_ok=True)
            try:
                holder.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                logger.warning("the Ray did not stop in %.0f s: killing it", STOP_WAIT_S)
                with suppress(ProcessLookupError):
                    os.killpg(holder.pid, signal.SIGKILL)
                holder.wait()
