"""What goes into the stream and where: one record per event per streamed entity, on the entity's partition.

An event is routed to `<entity>.<key % partitions>` for each entity a streamed view is keyed by, so each
entity's events stay in order in one stream and one worker keeps all of an entity's windows (a card's and a
merchant's views are fed by separate streams of the same events). A record carries the event's columns (its
time in whole microseconds, as events travel) and, for a served event, when it was answered: the start of the
freshness clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from pipelines.core.use_case import EVENT_TIMESTAMP, UseCase
from pipelines.data.schema import utc_nanoseconds

if TYPE_CHECKING:
    import pandas as pd

# Events as columns: a frame, or a mapping of arrays (what the prediction log commits).
EventColumns: TypeAlias = "Mapping[str, Any] | pd.DataFrame"
TIME_US = "t_us"  # the event's time in a record (microseconds since the epoch)
ANSWERED_US = "answered_us"  # when a served event was answered; absent for a landed one


@dataclass(frozen=True)
class StreamRoutes:
    """The streams of a use case: one per (streamed entity, partition)."""

    entities: tuple[tuple[str, str], ...]  # (entity name, key column) of each entity a streamed view is keyed by
    partitions: int

    @classmethod
    def of(cls, use_case: UseCase, partitions: int) -> StreamRoutes:
        names = dict.fromkeys(view.entity for view in use_case.views if view.streamed)
        return cls(tuple((name, use_case.entity_of(name).key) for name in names), partitions)

    @property
    def active(self) -> bool:
        """Whether anything streams at all (a use case without streamed views publishes nothing)."""
        return bool(self.entities)

    def stream(self, entity: str, key: int) -> str:
        return f"{entity}.{key % self.partitions}"

    def owned(self, worker_index: int, workers: int) -> list[str]:
        """The streams worker `worker_index` of `workers` keeps: partitions p with p % workers == index."""
        return [
            f"{entity}.{partition}"
            for entity, _ in self.entities
            for partition in range(self.partitions)
            if partition % workers == worker_index
        ]

    def entity_of(self, stream: str) -> str:
        return stream.rsplit(".", 1)[0]

    def records(self, events: EventColumns, answered_us: Sequence[int] | None = None) -> list[tuple[str, bytes]]:
        """(stream, payload) for each event and streamed entity, in the events' order."""
        if not self.active or len(events[EVENT_TIMESTAMP]) == 0:
            return []
        out: list[tuple[str, bytes]] = []
        keys = {entity: np.asarray(events[key], dtype=np.int64) for entity, key in self.entities}
        for index, payload in enumerate(_payloads(events, answered_us)):
            for entity, _ in self.entities:
                out.append((self.stream(entity, int(keys[entity][index])), payload))
        return out


def _payloads(events: EventColumns, answered_us: Sequence[int] | None) -> Iterator[bytes]:
    columns = [str(column) for column in events if column != EVENT_TIMESTAMP]
    times = utc_nanoseconds(events[EVENT_TIMESTAMP]).astype(np.int64) // 1000
    values = [events[column].tolist() for column in columns]
    for index in range(len(times)):
        record: dict[str, Any] = {column: values[position][index] for position, column in enumerate(columns)}
        record[TIME_US] = int(times[index])
        if answered_us is not None:
            record[ANSWERED_US] = int(answered_us[index])
        yield json.dumps(record, separators=(",", ":"), default=_plain).encode()


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot put {type(value).__name__} in a stream record")


def decode(payload: bytes) -> dict[str, Any]:
    """A record's event (columns, `t_us`, and `answered_us` for a served one)."""
    event: dict[str, Any] = json.loads(payload)
    return event
