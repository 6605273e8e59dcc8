"""An index of known events and their labels, so a label request costs the same at 10 parts as at 5,000.

A label request needs, for its few event ids: whether each event exists and when it happened, whether the
identical label is recorded already, and the event's current label. Reading every part for that made each
request read the whole history, twice, under the writer lock. The index keeps those facts per event id in memory,
built once per process and caught up from the parts it has not read: parts never change once published, so only
new names are read, and a compacted part whose inputs were all read is taken as read. A request then pays for
listing the folders (only directories that changed are read again: `pipelines.data.listing_cache`) and O(log n)
lookups.

Event ids are kept as 64-bit hashes (pandas' stable `hash_array`, the same in every process): among 10 million
events the chance that any two share one is about 3 in a million, and a shared hash could only let a label for
an unknown id through, or take a new label for one already recorded. Label values are kept bit-exactly in the
index's int64 payload: a binary label as the integer it is, a regression label as its float64 bits, so a value
read back (and the identity hashed from it) is the value that landed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.data.event_store import EventStore
from pipelines.data.keyed_runs import KeyedRuns
from pipelines.data.label_history import INGESTED_AT, KNOWN_AT
from pipelines.data.listing_cache import ListingCache
from pipelines.data.part_set import PartSet, PartVanished, is_compacted
from pipelines.data.prediction_log_format import LOGGED_AT, ROLE, served_event_rows
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP

if TYPE_CHECKING:
    from pipelines.core.use_case import Label

logger = logging.getLogger(__name__)

CATCH_UP_ATTEMPTS = 3


def event_keys(ids: pd.Series) -> np.ndarray:
    """The index's key of each event id."""
    return pd.util.hash_array(np.asarray(ids.astype(str), dtype=object))


def label_bits(values: pd.Series, label: Label) -> np.ndarray:
    """Label values as int64, bit-exactly: a binary label's integer, a regression label's float64 bits."""
    if label.kind == "regression":
        return values.to_numpy(dtype=np.float64).view(np.int64)
    return values.to_numpy(dtype=np.int64)


def label_values(bits: np.ndarray, label: Label) -> pd.Series:
    """The values `label_bits` stored, in the label's (nullable) dtype."""
    if label.kind == "regression":
        return pd.Series(bits.view(np.float64), dtype="Float64")
    return pd.Series(bits, dtype="Int64")


def label_keys(ids: pd.Series, values: pd.Series, stamps: pd.Series, label: Label) -> np.ndarray:
    """The key of each label record's identity: (event id, value, its own label_timestamp)."""
    frame = pd.DataFrame({"e": np.asarray(ids.astype(str), dtype=object), "v": label_bits(values, label),
                          "t": _ns(stamps)})  # fmt: skip
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _ns(stamps: pd.Series) -> np.ndarray:
    return pd.to_datetime(stamps, utc=True).dt.as_unit("ns").astype("int64").to_numpy()


class EventIndex:
    """The facts a label landing checks, for every event and label record in `store`.

    Attributes:
        events: event key -> (first recorded at, event time), in ns; the first record wins, as in
            `EventStore.event_times`.
        verdicts: event key -> (usable time, landed at, value bits) of its current label: the latest by the time
            the platform may use it, landing time breaking ties, as in `latest_labels(usable_times(...))`.
        identities: the identity key of every label record.
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.label = store.use_case.label
        self.events = KeyedRuns(width=2, rank=1, keep="min")
        self.verdicts = KeyedRuns(width=3, rank=2, keep="max")
        self.identities = KeyedRuns(width=0)
        self._read: dict[tuple[str, str], set[str]] = {}  # (area, directory prefix) -> parts taken in
        self._listings = ListingCache()
        self._lock = threading.RLock()

    # Catching up ----------------------------------------------------------------------------------------------

    def catch_up(self, events: bool = True) -> int:
        """Read the parts published since the last catch-up (the label parts; with `events`, the landed and
        served parts too); returns how many were read. Labels must be exact for a landing's duplicate check;
        event parts are looked at when an id is not found (`event_times`), as events are never unlabelled."""
        sources: list[tuple[str, PartSet, Callable[[str], None]]] = [
            ("labels", self.store.label_parts, self._add_labels)
        ]
        if events:
            sources += [
                ("landed", self.store.landed, self._add_landed),
                ("served", self.store.served, self._add_served),
            ]
        with self._lock:
            read = 0
            for area, parts, add in sources:
                for attempt in range(1, CATCH_UP_ATTEMPTS + 1):
                    try:
                        read += self._catch_up(area, parts, add)
                        break
                    except BaseException as error:
                        self._listings.forget(parts.folder)  # what was listed but not taken in: next time
                        if not isinstance(error, PartVanished) or attempt == CATCH_UP_ATTEMPTS:
                            raise
            return read

    def _catch_up(self, area: str, parts: PartSet, add: Callable[[str], None]) -> int:
        """Take in the new parts of the directories whose parts changed (a compacted part whose inputs were all
        taken in adds nothing new; parts compacted away or quarantined are forgotten)."""
        read = 0
        for pattern in parts.patterns:
            for prefix, names in self._listings.changed(parts.folder, pattern).items():
                live = parts.live(prefix + name for name in names)
                done = self._read.get((area, prefix), set())
                for name in live:
                    if name in done or (is_compacted(name) and parts.retired_by(name) <= done):
                        done.add(name)
                        continue
                    ok, _ = parts.read_one(name, add)
                    done.add(name)
                    read += ok
                self._read[(area, prefix)] = done & set(live)
        return read

    def _add_landed(self, name: str) -> None:
        frame = self.store.landed_dir.read_parquet(name, columns=[EVENT_ID, EVENT_TIMESTAMP, INGESTED_AT])
        self._add_events(frame[EVENT_ID], frame[INGESTED_AT], frame[EVENT_TIMESTAMP])

    def _add_served(self, name: str) -> None:
        folder = self.store.served.folder
        present = set(folder.read_schema(name).names)
        keys = self.store.use_case.entity_keys
        wanted = [EVENT_ID, EVENT_TIMESTAMP, ROLE, *keys, LOGGED_AT]
        if not set(wanted) <= present:
            return  # a part logged before answers carried event ids
        served = served_event_rows(folder.read_parquet(name, columns=wanted), keys)
        self._add_events(served[EVENT_ID], served[LOGGED_AT], served[EVENT_TIMESTAMP])

    def _add_events(self, ids: pd.Series, recorded: pd.Series, stamps: pd.Series) -> None:
        self.events.add(event_keys(ids), np.column_stack([_ns(recorded), _ns(stamps)]))

    def _add_labels(self, name: str) -> None:
        folder = self.store.labels_dir
        present = set(folder.read_schema(name).names)
        label = self.label.name
        wanted = [EVENT_ID, label, LABEL_TIMESTAMP, INGESTED_AT, *([KNOWN_AT] if KNOWN_AT in present else [])]
        records = folder.read_parquet(name, columns=wanted)
        usable = records[KNOWN_AT].fillna(records[LABEL_TIMESTAMP]) if KNOWN_AT in records else records[LABEL_TIMESTAMP]
        bits = label_bits(records[label], self.label)
        self.verdicts.add(
            event_keys(records[EVENT_ID]), np.column_stack([_ns(usable), _ns(records[INGESTED_AT]), bits])
        )
        self.identities.add(label_keys(records[EVENT_ID], records[label], records[LABEL_TIMESTAMP], self.label))

    # Lookups --------------------------------------------------------------------------------------------------

    def event_times(self, ids: pd.Series) -> pd.Series:
        """The known ones among `ids`, with their event times (indexed by event id, as `label_row_checks` takes).
        When some are not known, the landed and served parts published since are read first."""
        with self._lock:
            keys = event_keys(ids)
            found, payload = self.events.lookup(keys)
            if not found.all() and self.catch_up(events=True):
                found, payload = self.events.lookup(keys)
        stamps = pd.to_datetime(payload[found, 1], utc=True).as_unit("ns")
        return pd.Series(stamps, index=pd.Index(ids[found].astype(str), name=EVENT_ID), name=EVENT_TIMESTAMP)

    def current_verdicts(self, ids: pd.Series) -> pd.Series:
        """Each id's current label value in the label's nullable dtype (Int64 for binary, Float64 for
        regression), NA when it has no label; aligned with `ids`."""
        with self._lock:
            found, payload = self.verdicts.lookup(event_keys(ids))
        verdicts = label_values(np.ascontiguousarray(payload[:, 2]), self.label).set_axis(ids.index)
        verdicts[~found] = pd.NA
        return verdicts

    def recorded(self, labels: pd.DataFrame) -> np.ndarray:
        """Per label row, whether the identical record (event id, value, label_timestamp) is stored."""
        keys = label_keys(labels[EVENT_ID], labels[self.label.name], labels[LABEL_TIMESTAMP], self.label)
        with self._lock:
            found, _ = self.identities.lookup(keys)
        return found


_indexes: dict[tuple[str, str], EventIndex] = {}
_registry_lock = threading.Lock()


def index_for(store: EventStore) -> EventIndex:
    """This process's index of `store` (one per store: a server keeps it between requests)."""
    key = (store.root.url, store.prediction_log.url)
    with _registry_lock:
        index = _indexes.get(key)
        if index is None:
            index = _indexes[key] = EventIndex(store)
        return index
