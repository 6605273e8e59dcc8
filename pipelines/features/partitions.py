"""The feature views built partition by partition: entities split by id, each part read, computed and written
on its own (the `ray` engine's build).

Each task of `build_from_event_store` reads its own entities' events (and their labels) from the event store,
computes its rows of one view and writes that part of the offline table, so no process holds more than one
partition; the driver holds none. Why the rows equal the single pass's: every feature of an entity depends
only on that entity's own events (and, for a view that uses labels, the labels of those events), the hour lattice is the
same whole hours in every part, and a part keeps its events in their original order, so the per-cell sums add
in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.core.use_case import EVENT_ID
from pipelines.data.entity_partitions import EntitySlice
from pipelines.data.event_store import EventStore
from pipelines.data.storage import Folder
from pipelines.features.compute_engine import ComputeEngine
from pipelines.features.offline_store import retire_other_layouts, view_rows, write_window

if TYPE_CHECKING:
    from pipelines.core.use_case import UseCase


@dataclass(frozen=True)
class PartitionJob:
    """One task of `build_from_event_store`: read, compute and write one partition of one view."""

    view: str
    part: EntitySlice
    event_store: Folder  # folders travel as URLs: each task opens its own client, on whichever node it runs
    prediction_log: Folder
    use_case: UseCase  # whose events the store holds (Ray ships it with cloudpickle)
    table: Folder
    read_from: datetime  # events from here (the window start less the longest feature window)
    start: datetime
    end: datetime
    computed_at: datetime


def build_partition(job: PartitionJob) -> tuple[int, int]:
    """(events read, rows written in the window) for one partition of one view."""
    store = EventStore(job.event_store, job.prediction_log, job.use_case)
    events = store.events(pd.Timestamp(job.read_from), pd.Timestamp(job.end), job.part)
    spans = (
        store.label_spans(known_at=pd.Timestamp(job.end), event_ids=events[EVENT_ID])
        if job.use_case.view_of(job.view).uses_labels
        else pd.DataFrame({EVENT_ID: pd.Series(dtype="string")})
    )
    rows = view_rows(job.use_case, job.view, events, spans, job.start, job.end, job.computed_at)
    write_window(rows, job.table, job.start, job.end, job.part)
    return len(events), len(rows)


def build_from_event_store(
    event_store: Folder,
    prediction_log: Folder,
    use_case: UseCase,
    tables: dict[str, Folder],
    read_from: datetime,
    start: datetime,
    end: datetime,
    computed_at: datetime,
    engine: ComputeEngine,
    partitions: int,
) -> tuple[int, dict[str, int]]:
    """(events read, rows written per view) for [start, end], every partition a task of `engine`."""
    jobs = [
        PartitionJob(
            view,
            EntitySlice(key, index, partitions),
            event_store,
            prediction_log,
            use_case,
            tables[view],
            read_from,
            start,
            end,
            computed_at,
        )  # fmt: skip
        for view, key in ((view.name, use_case.key_of(view.name)) for view in use_case.views)
        for index in range(partitions)
    ]
    results = engine.map(build_partition, [(job,) for job in jobs])
    names = [view.name for view in use_case.views]
    for view in names:
        retire_other_layouts(tables[view], partitions)
    outcomes = list(zip(jobs, results, strict=True))
    written = {view: sum(rows for job, (_, rows) in outcomes if job.view == view) for view in names}
    # Every view's jobs read the same events (split by their own key): count them once, by the first view's.
    events = sum(read for job, (read, _) in outcomes if job.view == names[0])
    return events, written
