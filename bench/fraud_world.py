"""The demo's fraud world for the benches that need its models: features computed with the platform's
definitions and joined point in time, the way training joins them (one copy for the drift-alarm and the
gate-evidence benches, so both replay the same world)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from pipelines.core.settings import Settings
from pipelines.features.offline_store import as_spans, view_rows
from pipelines.features.training_set import labelled_events
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.generator import FraudConfig, generate_feeds

VIEWS = {view.name: FRAUD.key_of(view.name) for view in FRAUD.views}
LABEL_MATURITY_DAYS = FRAUD.label.maturity_days
HOLDOUT_DAYS = Settings.model_fields["holdout_days"].default  # the pipeline's default (DRIFTLOOP_HOLDOUT_DAYS)


def demo_config(end: datetime, seed: int, drift_start_day: int | None = 10) -> FraudConfig:
    """The demo's world (30 days, 500 customers, 80 merchants, the wallet partner from day 10)."""
    plan = FRAUD.generator.demo
    assert plan is not None, "the fraud use case declares a demo plan"
    return FraudConfig(end=end, seed=seed, days=30, size=plan.size, drift_start_day=drift_start_day, **dict(plan.knobs))


def demo_feeds(end: datetime, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(base events, base labels, both feeds' events, both feeds' labels) of the demo's world ending at `end`."""
    feeds = generate_feeds(demo_config(end, seed))
    both = pd.concat([feeds.base.events, feeds.drifted.events], ignore_index=True).sort_values("event_timestamp")
    labels = pd.concat([feeds.base.labels, feeds.drifted.labels], ignore_index=True)
    return feeds.base.events, feeds.base.labels, both.reset_index(drop=True), labels


def feature_tables(events: pd.DataFrame, labels: pd.DataFrame, end: datetime) -> dict[str, pd.DataFrame]:
    """Every view's rows over the events (the hourly ones with the labels as they arrived, the streamed ones
    replayed), computed by the views' own definitions."""
    start = events["event_timestamp"].min().floor("h").to_pydatetime()
    spans = as_spans(labels)
    return {view: view_rows(FRAUD, view, events, spans, start, end, end) for view in VIEWS}


def as_of(rows: pd.DataFrame, tables: dict[str, pd.DataFrame], stamps: pd.Series) -> pd.DataFrame:
    """`rows` with each view's latest feature row stamped at or before `stamps` (within the 7-day ttl)."""
    out = rows.assign(_at=stamps.to_numpy()).reset_index(drop=True)
    out["_order"] = np.arange(len(out))
    for view, key in VIEWS.items():
        table = tables[view].drop(columns=["created_timestamp"]).sort_values("event_timestamp")
        table = table.rename(columns={c: f"{view}__{c}" for c in table.columns if c not in (key, "event_timestamp")})
        merged = pd.merge_asof(
            out.sort_values("_at"),
            table.rename(columns={"event_timestamp": "_row_at"}),
            left_on="_at",
            right_on="_row_at",
            by=key,
            direction="backward",
            tolerance=pd.Timedelta(days=7),
        )
        out = merged.drop(columns=["_row_at"]).sort_values("_order").reset_index(drop=True)
    return out.drop(columns=["_at", "_order"])


def training_set(events: pd.DataFrame, labels: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The labelled, mature events with their point-in-time features: what the pipeline's training set holds."""
    labelled = labelled_events(events, labels, LABEL_MATURITY_DAYS, FRAUD)
    return as_of(labelled, tables, labelled["event_timestamp"])
