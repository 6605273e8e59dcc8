"""The frozen evaluation set: labelled rows with their point-in-time features, kept where no endpoint writes.

Why: a candidate and the champion scored on a holdout cut from the labels just received can both be fooled by
those labels (flip them, and a model of the flipped world wins). The frozen set holds the world as it was when
an operator froze it; a candidate must not be worse than the champion there (the gate). It is frozen once from
the first run's holdout (the platform's first, operator-landed data) and refreshed only by an operator's
command (`driftloop data freeze-evaluation-set`). Every run records the fingerprint of the set it was judged
on, and every model version carries it.

Layout under `<state>/evaluation/`: `frozen-<fingerprint>.parquet` (immutable) and `current.json` naming the one
in force. Each file is published whole (written aside, then renamed).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.data.schema import IS_FRAUD
from pipelines.registry.lineage import frame_fingerprint

logger = logging.getLogger(__name__)

CURRENT = "current.json"


@dataclass(frozen=True)
class FrozenSet:
    """The frozen evaluation set's identity: its fingerprint goes on every model version it judged."""

    fingerprint: str
    file: str
    rows: int
    positives: int
    frozen_at: str
    source: str  # what it was built from: "first run <id>" or the operator's window

    def short(self) -> str:
        return self.fingerprint[:12]


def evaluation_folder(settings: Settings) -> Path:
    return Layout.from_settings(settings).evaluation


def current_set(settings: Settings) -> tuple[FrozenSet, pd.DataFrame] | None:
    """The set in force and its rows; None before one was frozen."""
    folder = evaluation_folder(settings)
    try:
        record = FrozenSet(**json.loads((folder / CURRENT).read_text()))
    except FileNotFoundError:
        return None
    return record, pd.read_parquet(folder / record.file)


def freeze(settings: Settings, rows: pd.DataFrame, source: str, replace: bool) -> FrozenSet | None:
    """Keep `rows` as the evaluation set. Without `replace` (the first run's bootstrap) only when none is in
    force: returns None and changes nothing otherwise."""
    folder = evaluation_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    if not replace and (folder / CURRENT).exists():
        return None
    rows = rows.reset_index(drop=True)
    fingerprint = frame_fingerprint(rows)
    record = FrozenSet(
        fingerprint, f"frozen-{fingerprint[:16]}.parquet", len(rows), int(rows[IS_FRAUD].sum()),
        pd.Timestamp.now(tz="UTC").isoformat(), source,
    )  # fmt: skip
    _publish(folder / record.file, lambda path: rows.to_parquet(path, index=False))
    _publish(folder / CURRENT, lambda path: path.write_text(json.dumps(asdict(record), indent=2)))
    logger.info("evaluation set %s frozen: %d rows, %d fraud (%s)", record.short(), record.rows, record.positives,
                source)  # fmt: skip
    return record


def _publish(path: Path, write: Callable[[Path], object]) -> None:
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    write(draft)
    os.replace(draft, path)


def freeze_from_event_store(settings: Settings, days: int, now: pd.Timestamp | None = None) -> FrozenSet:
    """An operator's refresh: the `days` of events that end `label_maturity_days` ago (their labels had time to
    arrive), with their labels as known now and their point-in-time features, replace the set in force."""
    import tempfile

    from pipelines.core.errors import DriftloopError
    from pipelines.data.event_store import event_store_for
    from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, FEATURE_HISTORY
    from pipelines.features.compute_engine import open_engine
    from pipelines.features.refresh import refresh_features
    from pipelines.features.training_set_build import training_set_from_snapshot

    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    end = now - pd.Timedelta(days=settings.label_maturity_days)
    start = end - pd.Timedelta(days=days)
    store = event_store_for(settings)
    # A week more of events before the span: a training row needs its features' history (mature_span).
    events = store.events(start - FEATURE_HISTORY, end)
    inside = events.loc[events[EVENT_TIMESTAMP] >= start, EVENT_ID]
    labels = store.labels(known_at=now)
    labels = labels[labels[EVENT_ID].isin(inside)].reset_index(drop=True)
    if labels.empty:
        raise DriftloopError(f"no labelled event in [{start}, {end}): nothing to freeze (land labels first)")
    refresh_features(settings)  # the features of those hours, up to date
    with tempfile.TemporaryDirectory() as folder, open_engine(settings) as engine:
        events_path, labels_path = Path(folder) / "events.parquet", Path(folder) / "labels.parquet"
        events.to_parquet(events_path, index=False)
        labels.to_parquet(labels_path, index=False)
        rows = training_set_from_snapshot(settings, events_path, labels_path, 0, engine)
    if rows.empty or rows[IS_FRAUD].nunique() < 2:
        raise DriftloopError(f"the labelled events of [{start}, {end}) hold one class only: widen --days")
    source = f"operator: events [{start.isoformat()}, {end.isoformat()}), labels as known at {now.isoformat()}"
    record = freeze(settings, rows, source, replace=True)
    assert record is not None
    return record
