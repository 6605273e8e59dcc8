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

from pipelines.core.errors import DriftloopError
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.core.use_case import Label, load_use_case
from pipelines.data.event_store import event_store_for
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP
from pipelines.features.compute_engine import open_engine
from pipelines.features.refresh import refresh_features
from pipelines.features.training_set_build import training_set_from_snapshot
from pipelines.registry.lineage import frame_fingerprint

logger = logging.getLogger(__name__)

CURRENT = "current.json"


@dataclass(frozen=True)
class FrozenSet:
    """The frozen evaluation set's identity: its fingerprint goes on every model version it judged."""

    fingerprint: str
    file: str
    rows: int
    positives: int  # rows labelled 1 (a classifier's); 0 for a regression
    frozen_at: str
    source: str  # what it was built from: "first run <id>" or the operator's window
    label_mean: float | None = None  # the label's mean (None in a set frozen before it was recorded)

    def short(self) -> str:
        return self.fingerprint[:12]

    def describe(self, label: Label) -> str:
        """Its rows and what their labels hold, as a person reads it ("1200 rows, 24 fraud (2.00%)")."""
        if label.kind == "binary":
            return f"{self.rows} rows, {self.positives} {label.positive} ({self.positives / max(self.rows, 1):.2%})"
        mean = "?" if self.label_mean is None else f"{self.label_mean:.2f}"
        return f"{self.rows} rows, mean {label.name} {mean} {label.unit}".rstrip()


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


def freeze(settings: Settings, rows: pd.DataFrame, source: str, replace: bool, label: Label) -> FrozenSet | None:
    """Keep `rows` as the evaluation set. Without `replace` (the first run's bootstrap) only when none is in
    force: returns None and changes nothing otherwise."""
    folder = evaluation_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    if not replace and (folder / CURRENT).exists():
        return None
    rows = rows.reset_index(drop=True)
    fingerprint = frame_fingerprint(rows)
    values = rows[label.name]
    record = FrozenSet(
        fingerprint=fingerprint,
        file=f"frozen-{fingerprint[:16]}.parquet",
        rows=len(rows),
        positives=int((values == 1).sum()) if label.kind == "binary" else 0,
        frozen_at=pd.Timestamp.now(tz="UTC").isoformat(),
        source=source,
        label_mean=float(values.mean()) if len(values) else None,
    )
    _publish(folder / record.file, lambda path: rows.to_parquet(path, index=False))
    _publish(folder / CURRENT, lambda path: path.write_text(json.dumps(asdict(record), indent=2)))
    logger.info("evaluation set %s frozen: %s (%s)", record.short(), record.describe(label), source)
    return record


def _publish(path: Path, write: Callable[[Path], object]) -> None:
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    write(draft)
    os.replace(draft, path)


def freeze_from_event_store(settings: Settings, days: int, now: pd.Timestamp | None = None) -> FrozenSet:
    """An operator's refresh: the `days` of events that end `label_maturity_days` ago (their labels had time to
    arrive), with their labels as known now and their point-in-time features, replace the set in force."""
    import tempfile

    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    end = now - pd.Timedelta(days=settings.label_maturity_days)
    start = end - pd.Timedelta(days=days)
    use_case = load_use_case(settings.use_case)
    label = use_case.label
    store = event_store_for(settings)
    # The views' history more of events before the span: a training row needs its features' (mature_span).
    events = store.events(start - use_case.max_ttl, end)
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
    judged = rows[label.name] if not rows.empty else pd.Series(dtype="float64")
    if label.kind == "binary" and judged.nunique() < 2:
        raise DriftloopError(f"the labelled events of [{start}, {end}) hold one class only: widen --days")
    if label.kind == "regression" and (len(judged) < 2 or judged.std() == 0):
        raise DriftloopError(f"the labelled events of [{start}, {end}) hold one {label.name} value only: widen --days")
    source = f"operator: events [{start.isoformat()}, {end.isoformat()}), labels as known at {now.isoformat()}"
    record = freeze(settings, rows, source, replace=True, label=label)
    assert record is not None
    return record
