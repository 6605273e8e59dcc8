"""Landing a batch into the event store: good rows land, bad rows go to quarantine with their reasons.

The checks are the data contract's own (`pipelines.data.contract`): the same rule that stops a training
run stops a row at the door. Landing is idempotent by `event_id`: a row whose event (or, for labels, whose
identical label) the store already holds is counted as already present and written nowhere, so landing
the same file twice changes nothing. What lands is published with its landing's record in one durable step
(`EventStore.append_labels`), so a retry after a crash at any point lands exactly what is missing.

A label landing looks its events and labels up in this process's index (`pipelines.data.event_index`), never in
the whole history: its cost does not grow with the number of parts. The columns and rules are the use case's,
as the store holds it (`EventStore.use_case`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.core.errors import DriftloopError
from pipelines.data.contract import KIND_CHECKS, RowCheck, event_row_checks, label_row_checks
from pipelines.data.event_index import EventIndex, index_for
from pipelines.data.event_store import EventStore
from pipelines.data.landing_records import Landing
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP

logger = logging.getLogger(__name__)

REASON = "quarantine_reason"
FUTURE_TOLERANCE = timedelta(minutes=5)
NUMBER_TOLERANCE = 1e-6  # two number fields this close are the same value (a float's round trip through text)
STORED = "_stored"


@dataclass
class LandingResult:
    """What a landing stored, found already present or quarantined: the answer a caller acts on."""

    kind: str
    source: str
    rows: int = 0
    landed: int = 0
    already_present: int = 0
    quarantined: int = 0
    quarantine_path: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    rejected_rows: list[int] = field(default_factory=list)  # positions refused by an all-or-nothing landing

    def summary(self) -> str:
        line = (
            f"{self.source}: {self.rows} {self.kind} rows: {self.landed} landed, "
            f"{self.already_present} already present, {self.quarantined} quarantined"
        )
        if self.quarantined:
            reasons = ", ".join(f"{name} ({count})" for name, count in sorted(self.reasons.items()))
            line += f" [{reasons}] -> {self.quarantine_path}"
        return line


def _schema_problems(table: pd.DataFrame, expected: Mapping[str, str], table_name: str) -> list[str]:
    """Whole-file problems: a missing column or a column of the wrong type rejects every row."""
    problems = [f"{table_name}.columns: missing {column}" for column in expected if column not in table.columns]
    for column, dtype in expected.items():
        if column in table.columns:
            kind, accepts = KIND_CHECKS[dtype]
            if not accepts(table[column]):
                problems.append(f"{table_name}.{column}.type: expected {kind}, found {table[column].dtype}")
    return problems


def _row_reasons(
    table: pd.DataFrame, table_name: str, expected: Mapping[str, str], checks: list[RowCheck]
) -> pd.Series:
    """Per row, the names of the checks it fails, joined by '; ' ('' for a good row)."""
    reasons = pd.Series("", index=table.index, dtype="string")

    def add(mask: pd.Series, name: str) -> None:
        reasons.loc[mask] = reasons.loc[mask].where(reasons.loc[mask] == "", reasons.loc[mask] + "; ") + name

    for column in expected:
        add(table[column].isna(), f"{table_name}.{column}.nulls")
    for check in checks:
        add(check.offending.fillna(False).astype(bool), check.name)
    return reasons


def _split(
    store: EventStore, frame: pd.DataFrame, kind: str, source: str, reasons: pd.Series, now: pd.Timestamp
) -> tuple[pd.DataFrame, LandingResult]:
    result = LandingResult(kind=kind, source=source, rows=len(frame))
    bad = reasons != ""
    if bad.any():
        rejected = frame[bad].assign(**{REASON: reasons[bad].to_numpy()})
        result.quarantined = int(bad.sum())
        result.quarantine_path = str(store.quarantine(rejected, kind, now))
        result.reasons = _count_reasons(reasons[bad])
    return frame[~bad], result


def _count_reasons(reasons: pd.Series) -> dict[str, int]:
    """How many rows fail each check (a row's reasons are joined by '; ')."""
    counts: dict[str, int] = {}
    for joined in reasons:
        for name in str(joined).split("; "):
            counts[name] = counts.get(name, 0) + 1
    return counts


def _exact_duplicates_once(frame: pd.DataFrame) -> pd.DataFrame:
    """A row delivered twice in one file is one row (a re-sent line), not a conflict."""
    return frame.drop_duplicates()


def land_events(
    store: EventStore,
    frame: pd.DataFrame,
    source: str,
    now: pd.Timestamp,
    on_landed: Callable[[pd.DataFrame], object] | None = None,
) -> LandingResult:
    """Land events: contract-checked, deduplicated against the store, bad rows quarantined. `on_landed` hears the
    new events once they are durable (the stream of events: `pipelines.streaming.publisher`)."""
    columns = store.event_columns
    with store.locked():
        problems = _schema_problems(frame, columns, "events")
        if problems:
            reasons = pd.Series("; ".join(problems), index=frame.index, dtype="string")
            return _split(store, frame, "events", source, reasons, now)[1]
        frame = _exact_duplicates_once(frame[list(columns)])
        checks = [*event_row_checks(frame, store.use_case, now, FUTURE_TOLERANCE), _collisions(store, frame)]
        good, result = _split(store, frame, "events", source, _row_reasons(frame, "events", columns, checks), now)
        known = good[EVENT_ID].isin(store.event_times().index)
        result.already_present = int(known.sum())
        new = good[~known]
        if len(new):
            oldest = new[EVENT_TIMESTAMP].min().isoformat()
            store.append_events(new, now, Landing("events", source, now.isoformat(), len(new), oldest, None, _id()))
            if on_landed is not None:
                on_landed(new)
        result.landed = len(new)
    logger.info("%s", result.summary())
    return result


def _collisions(store: EventStore, frame: pd.DataFrame) -> RowCheck:
    """Rows whose event_id the store holds for a different event (other values in any identity column: entity
    keys and fields): quarantined, never counted as already present. A caller who chose an id first (over the
    scoring endpoint) must not make a later real landing of that id vanish. The same event again (its time may
    differ: a served event is stamped on receipt) is already present."""
    identity = list(store.use_case.identity_columns)
    numbers = {spec.name for spec in store.use_case.fields if spec.kind == "number"}
    stored = store.events().drop_duplicates(EVENT_ID)[[EVENT_ID, *identity]]
    merged = frame[[EVENT_ID, *identity]].merge(stored, on=EVENT_ID, how="left", suffixes=("", STORED), indicator=True)
    known = (merged["_merge"] == "both").to_numpy(dtype=bool)
    same = np.logical_and.reduce(
        [_same_values(merged[column], merged[column + STORED], column in numbers) for column in identity]
    )
    return RowCheck(
        "events.event_id.collision", "reuse the event_id of a stored, different event", (EVENT_ID,),
        pd.Series(known & ~same, index=frame.index),
    )  # fmt: skip


def _same_values(ours: pd.Series, stored: pd.Series, is_number: bool) -> np.ndarray:
    """Per row, whether a landed value equals the stored one: numbers within NUMBER_TOLERANCE, others exactly."""
    same = (ours - stored).abs() <= NUMBER_TOLERANCE if is_number else ours == stored
    return same.fillna(False).to_numpy(dtype=bool)


def land_labels(
    store: EventStore,
    frame: pd.DataFrame,
    source: str,
    now: pd.Timestamp,
    all_or_nothing: bool = False,
    trusted_times: bool = True,
    index: EventIndex | None = None,
) -> LandingResult:
    """Land labels: each must refer to a known event and arrive after it; a label that does not change the
    event's current verdict (the same label again, even re-stamped) lands nothing.

    `trusted_times` (a batch landing by an operator): a label counts from its own label_timestamp. Otherwise
    (a client over HTTP) it counts from now: its label_timestamp is kept as business time only.

    `all_or_nothing` (the feedback endpoint): one bad row rejects the batch, nothing lands or is quarantined,
    and the reasons are returned for the caller to fix. Raises `WriterLockTimeout` when another writer holds
    the store longer than its lock timeout.
    """
    index = index or index_for(store)
    columns, label = store.label_columns, store.label_column
    index.catch_up(events=False)  # outside the lock: the bulk of what other writers added, while they go on
    with store.locked():
        problems = _schema_problems(frame, columns, "labels")
        if problems:
            reasons = pd.Series("; ".join(problems), index=frame.index, dtype="string")
            return _reject(frame, "labels", source, reasons) if all_or_nothing else _split(
                store, frame, "labels", source, reasons, now)[1]  # fmt: skip
        frame = _exact_duplicates_once(frame[list(columns)])
        index.catch_up(events=False)  # labels landed while this one waited: the duplicate check must see them
        event_times = index.event_times(frame[EVENT_ID].dropna())  # (events it does not know: looked for)
        checks = label_row_checks(frame, store.use_case, event_times, now, FUTURE_TOLERANCE)
        reasons = _row_reasons(frame, "labels", columns, checks)
        if all_or_nothing and (reasons != "").any():
            return _reject(frame, "labels", source, reasons)
        good, result = _split(store, frame, "labels", source, reasons, now)
        # Already present: the identical record, or the same value the event holds now (a label re-sent
        # later is no change). A different value is a new record with its time; the latest wins.
        known = index.recorded(good) | _holds_already(index.current_verdicts(good[EVENT_ID]), good[label])
        result.already_present = int(known.sum())
        new = good[~known]
        if len(new):
            oldest_event = event_times.reindex(new[EVENT_ID].astype(str)).min()
            oldest_known = new[LABEL_TIMESTAMP].min() if trusted_times else now  # the refresh recomputes from it
            landing = Landing("labels", source, now.isoformat(), len(new), oldest_event.isoformat(),
                              oldest_known.isoformat(), _id())  # fmt: skip
            store.append_labels(new, now, trusted_times, landing)
        result.landed = len(new)
    logger.info("%s", result.summary())
    return result


def _holds_already(current: pd.Series, landing: pd.Series) -> np.ndarray:
    """Per label row, whether its event's current label is this value (a float compared exactly: the label's
    value as stored, not rounded to an integer); False where the event has no label yet."""
    same = current.to_numpy(dtype=np.float64, na_value=np.nan) == landing.to_numpy(dtype=np.float64)
    return np.asarray(same, dtype=bool)


def unknown_events(store: EventStore, event_ids: pd.Series) -> pd.Series:
    """The ids among `event_ids` the store does not know (yet): a quick look, outside the writer lock."""
    return event_ids[~event_ids.astype(str).isin(index_for(store).event_times(event_ids).index)]


def _id() -> str:
    return uuid.uuid4().hex


def _reject(frame: pd.DataFrame, kind: str, source: str, reasons: pd.Series) -> LandingResult:
    """A batch refused whole: nothing lands, nothing is quarantined; the reasons name the rows."""
    result = LandingResult(kind=kind, source=source, rows=len(frame), reasons=_count_reasons(reasons[reasons != ""]))
    result.rejected_rows = [int(i) for i in reasons.index[reasons != ""]]
    return result


def read_landing_file(path: Path) -> pd.DataFrame:
    """A parquet file as delivered; the contract judges its types, nothing is coerced."""
    if not path.is_file():
        raise DriftloopError(f"{path} does not exist")
    try:
        return pd.read_parquet(path)
    except Exception as error:  # noqa: BLE001 - any unreadable file is one clear message
        raise DriftloopError(f"{path} is not a readable parquet file: {error}") from error
