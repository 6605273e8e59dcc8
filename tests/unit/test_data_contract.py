"""The data contract names each broken rule and the rows or columns that broke it."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from pipelines.data.contract import validate_raw_data
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.generator import FraudConfig, generate

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def clean() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate(FraudConfig(end=END, days=5, size=50, merchants=10))


def _failed(events: pd.DataFrame, labels: pd.DataFrame) -> dict[str, object]:
    report = validate_raw_data(events, labels, FRAUD, as_of=END)
    assert not report.passed
    return {check.name: check for check in report.failures}


def test_clean_data_passes_every_check(clean: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    report = validate_raw_data(*clean, FRAUD, as_of=END)
    assert report.passed and len(report.checks) > 20
    assert report.to_dict()["passed"] is True


@pytest.mark.parametrize(
    ("corrupt", "check", "offending"),
    [
        (lambda e: e.assign(amount=e["amount"].where(e.index >= 4)), "events.amount.nulls", 4),
        (lambda e: e.assign(amount=e["amount"].where(e.index >= 3, -5.0)), "events.amount.range", 3),
        (lambda e: e.assign(amount=e["amount"].where(e.index >= 1, 2e6)), "events.amount.range", 1),
        (lambda e: e.assign(channel=e["channel"].where(e.index >= 2, "fax")), "events.channel.domain", 2),
        (lambda e: e.assign(customer_id=e["customer_id"].where(e.index >= 2, -1)), "events.customer_id.range", 2),
        (lambda e: e.assign(event_id=e["event_id"].where(e.index != 1, e["event_id"][0])), "events.event_id.unique", 2),
    ],
)
def test_row_level_violations_name_the_check_and_count_rows(
    clean: tuple[pd.DataFrame, pd.DataFrame],
    corrupt,
    check: str,
    offending: int,  # type: ignore[no-untyped-def]
) -> None:
    failures = _failed(corrupt(clean[0].copy()), clean[1])
    assert check in failures, list(failures)
    assert failures[check].offending_count == offending  # type: ignore[attr-defined]
    assert failures[check].offending_sample  # type: ignore[attr-defined]


def test_wrong_types_missing_columns_and_naive_timestamps(clean: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, labels = clean
    failures = _failed(events.assign(amount=events["amount"].astype(str)), labels)
    assert "events.amount.type" in failures and "events.amount.range" not in failures
    failures = _failed(events.drop(columns=["channel"]), labels)
    assert "missing columns: channel" in failures["events.columns"].message  # type: ignore[attr-defined]
    naive = events.assign(event_timestamp=events["event_timestamp"].dt.tz_localize(None))
    assert "events.event_timestamp.type" in _failed(naive, labels)


def test_timestamps_future_stale_and_label_order(clean: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, labels = clean
    future = events.copy()
    future.loc[future.index[:2], "event_timestamp"] = pd.Timestamp(END) + pd.Timedelta(days=2)
    assert _failed(future, labels)["events.event_timestamp.future"].offending_count == 2  # type: ignore[attr-defined]
    stale = validate_raw_data(events, labels, FRAUD, as_of=datetime(2026, 11, 10, tzinfo=UTC))
    assert [c.name for c in stale.failures] == ["events.freshness"]
    early = labels.copy()
    early.loc[early.index[:3], "label_timestamp"] = pd.Timestamp("2000-01-01", tz="UTC")
    assert _failed(events, early)["labels.label_timestamp.order"].offending_count == 3  # type: ignore[attr-defined]
    orphan = pd.concat([labels, labels.head(1).assign(event_id="nope")], ignore_index=True)
    assert "labels.event_id.references" in _failed(events, orphan)
