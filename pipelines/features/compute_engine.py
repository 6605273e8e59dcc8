"""Where feature computation runs: in this process (`pandas`), or as Ray tasks (`ray`), chosen by one setting.

Both engines run the same functions (`pipelines.features.engineering`); the Ray engine runs them on entity
partitions, one task each, so no process holds more than a partition's working set plus what the driver
collects. A local Ray is started for the run with bounded CPUs and object store and shut down afterwards
(no process outlives it); with `DRIFTLOOP_RAY_ADDRESS` the engine joins a running cluster instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from pipelines.core.ray_runtime import ray_runtime
from pipelines.core.settings import Settings

logger = logging.getLogger(__name__)

Result = TypeVar("Result")


class ComputeEngine(Protocol):
    """Where partitioned feature and training-set work runs (in this process or on Ray), behind one call."""

    name: str

    def map(self, function: Callable[..., Result], calls: Sequence[tuple[Any, ...]]) -> list[Result]:
        """`function(*call)` for every call, results in the order of the calls."""
        ...


class PandasEngine:
    """Everything in this process, one call after the other."""

    name = "pandas"

    def map(self, function: Callable[..., Result], calls: Sequence[tuple[Any, ...]]) -> list[Result]:
        return [function(*call) for call in calls]


class RayEngine:
    """Each call a Ray task (one CPU), at most `in_flight` at once so results never pile up unread."""

    name = "ray"

    def __init__(self, in_flight: int) -> None:
        self.in_flight = max(1, in_flight)

    def map(self, function: Callable[..., Result], calls: Sequence[tuple[Any, ...]]) -> list[Result]:
        import ray

        remote = ray.remote(num_cpus=1, max_retries=1)(function)
        results: dict[int, Result] = {}
        pending: dict[Any, int] = {}
        for index, call in enumerate(calls):
            if len(pending) >= self.in_flight:
                self._collect(pending, results)
            pending[remote.remote(*call)] = index
        while pending:
            self._collect(pending, results)
        return [results[index] for index in range(len(calls))]

    @staticmethod
    def _collect(pending: dict[Any, int], results: dict[int, Any]) -> None:
        import ray

        (done,), _ = ray.wait(list(pending), num_returns=1)
        results[pending.pop(done)] = ray.get(done)


@contextmanager
def open_engine(settings: Settings) -> Iterator[ComputeEngine]:
    """The engine the settings choose, ready to use; a local Ray it started is shut down on exit."""
    if settings.feature_engine == "pandas":
        yield PandasEngine()
        return
    with ray_runtime(settings) as cpus:
        yield RayEngine(cpus)
