"""A Ray started ahead of the job that needs it, by the process that runs the job's steps.

A local training run's search (and the `ray` feature engine) used to start a Ray of its own inside its step
and stop it at the end: 2.6 s to start and 1.4 s to stop on a 2-core machine, every run. The local runner starts
this holder with the run instead (`python -m pipelines.core.ray_holder ...`), while the first steps work; the step
joins it (`ray_runtime`), which takes half a second, and only disconnects at the end. The holder writes the Ray's
address to a file when it is ready, or a marker beside it when it could not start, and stops its Ray when the
runner leaves a stop marker (how it ends the run), when the address file is removed, when its parent is gone, or
on SIGTERM before Ray is up (once Ray runs, its own handler answers a SIGTERM by ending the process, which ends
Ray's processes with it). Given the run's task host (`--after`), it starts Ray once the host is ready: both at
once, on two cores, delayed the run's first task by 3 s.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import tempfile
import time
from pathlib import Path

from pipelines.core.handoff import Handoff, failed_marker
from pipelines.core.ray_runtime import short_temp_root

logger = logging.getLogger("driftloop.ray_holder")

POLL_S = 0.5
AFTER_WAIT_S = 30.0  # the task host's imports; past this Ray starts anyway


def stop_marker(address_file: Path) -> Path:
    """The file the runner leaves beside the address when the run ends: the holder stops, started or not (before
    Ray publishes its address, a removed address file looks like one not written yet)."""
    return address_file.with_name(f"{address_file.name}.stop")


def hold(address_file: Path, parent: int, cpus: int, object_store_mib: int, after: Handoff | None = None) -> None:
    """Start a local Ray (once `after`, the run's task host, is ready), publish its address, keep it until told
    to stop."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    def told_to_stop() -> bool:
        return stopping or stop_marker(address_file).exists() or os.getppid() != parent

    signal.signal(signal.SIGTERM, stop)
    if after is not None:
        # Ray's start (about 3 s of CPU for its processes) waits for the task host: at the run's start, on two
        # cores, it delayed the first task by 3 s; the train step that needs it comes three steps later.
        after.ready(AFTER_WAIT_S, give_up=told_to_stop)
    if told_to_stop():
        return
    import ray

    with tempfile.TemporaryDirectory(prefix="driftloop-ray-", dir=short_temp_root()) as temporary:
        try:
            ray.init(
                num_cpus=cpus, object_store_memory=object_store_mib * 2**20, include_dashboard=False,
                log_to_driver=False, configure_logging=False, _temp_dir=temporary,
            )  # fmt: skip
        except Exception:
            Path(failed_marker(str(address_file))).touch()  # the step stops waiting and starts a Ray of its own
            raise
        try:
            address = ray.get_runtime_context().gcs_address
            partial = address_file.with_name(f"{address_file.name}.{os.getpid()}")
            partial.write_text(address)
            partial.rename(address_file)  # the file appears whole: a reader never sees half an address
            logger.info("Ray %s ready: %d CPUs, %d MiB object store", address, cpus, object_store_mib)
            while not told_to_stop() and address_file.exists():
                time.sleep(POLL_S)
        finally:
            ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address-file", type=Path, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--cpus", type=int, required=True)
    parser.add_argument("--object-store-mib", type=int, required=True)
    parser.add_argument("--after", default="", help="<pid>:<path> of a helper to let start first")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s ray holder: %(message)s")
    after = Handoff.parse(options.after)
    hold(options.address_file, options.parent, options.cpus, options.object_store_mib, after)


if __name__ == "__main__":
    main()
