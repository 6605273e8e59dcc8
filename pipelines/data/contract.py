"""The data contract of raw events and labels: every check named, every failure pointing at rows or columns.

`validate_raw_data` never raises on bad data: it returns a report. The pipeline's validation step turns a
failed report into a stop, so nothing downstream (features, training, the registry) sees broken data.
Check names read `<table>.<column>.<check>` so a report line says where to look. The columns and their rules
come from the use case's declaration: each field's range or allowed values, each entity key >= 0, the label's
domain.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from pipelines.core.errors import DriftloopError
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP, PLATFORM_EPOCH

if TYPE_CHECKING:
    from pipelines.core.use_case import Field, Label, UseCase

logger = logging.getLogger(__name__)

SAMPLE_SIZE = 5


def _is_text(column: pd.Series) -> bool:
    return bool(ptypes.is_string_dtype(column)) and all(isinstance(v, str) for v in column.dropna())


def _is_timestamp(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.DatetimeTZDtype)


def _is_integer(column: pd.Series) -> bool:
    return bool(ptypes.is_integer_dtype(column)) and not ptypes.is_bool_dtype(column)


def _is_number(column: pd.Series) -> bool:
    return bool(ptypes.is_numeric_dtype(column)) and not ptypes.is_bool_dtype(column)


KIND_CHECKS: dict[str, tuple[str, Callable[[pd.Series], bool]]] = {
    "string": ("string", _is_text),
    "datetime64[ns, UTC]": ("timezone-aware timestamp", _is_timestamp),
    "int64": ("integer", _is_integer),
    "float64": ("number", _is_number),
}


@dataclass
class CheckResult:
    """One data-contract check: passed or not, with the columns and row count a person can act on."""

    name: str
    passed: bool
    message: str
    columns: list[str] = field(default_factory=list)
    offending_count: int = 0
    offending_sample: list[Any] = field(default_factory=list)


@dataclass
class ValidationReport:
    """Every check of a training window, logged to the run; training stops when one fails."""

    checks: list[CheckResult]
    as_of: str

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "as_of": self.as_of, "checks": [asdict(check) for check in self.checks]}

    def summary(self) -> str:
        """One line per failed check (or a single line when all pass)."""
        if self.passed:
            return f"all {len(self.checks)} checks passed"
        return "\n".join(
            f"  FAILED {c.name}: {c.message}" + (f" (e.g. {c.offending_sample})" if c.offending_sample else "")
            for c in self.failures
        )


class _Checks:
    """Collects results; a check over rows records how many offend and which (by event id or row index)."""

    def __init__(self) -> None:
        self.results: list[CheckResult] = []
        self.bad_columns: set[str] = set()

    def add(self, name: str, passed: bool, message: str, columns: list[str]) -> None:
        self.results.append(CheckResult(name, bool(passed), message, columns))
        if not passed:
            self.bad_columns.update(columns)

    def rows(self, name: str, table: pd.DataFrame, offending: pd.Series, what: str, columns: list[str]) -> None:
        count = int(offending.sum())
        sample_frame = table.loc[offending].head(SAMPLE_SIZE)
        sample = (
            sample_frame[EVENT_ID].astype(str).tolist() if EVENT_ID in table else [int(i) for i in sample_frame.index]
        )
        message = f"{count} of {len(table)} rows {what}" if count else "ok"
        self.results.append(CheckResult(name, count == 0, message, columns, count, sample))


def _check_schema(checks: _Checks, table_name: str, table: pd.DataFrame, expected: Mapping[str, str]) -> None:
    missing = [column for column in expected if column not in table.columns]
    checks.add(
        f"{table_name}.columns",
        not missing,
        f"missing columns: {', '.join(missing)}" if missing else "ok",
        missing,
    )
    for column, dtype in expected.items():
        if column not in table.columns:
            continue
        kind, accepts = KIND_CHECKS[dtype]
        ok = accepts(table[column])
        checks.add(
            f"{table_name}.{column}.type",
            ok,
            "ok" if ok else f"expected {kind}, found {table[column].dtype}",
            [column],
        )
        nulls = table[column].isna()
        checks.rows(f"{table_name}.{column}.nulls", table, nulls, f"have no {column}", [column])


def _usable(checks: _Checks, table: pd.DataFrame, *columns: str) -> bool:
    return all(c in table.columns and c not in checks.bad_columns for c in columns)


@dataclass(frozen=True)
class RowCheck:
    """A check over rows: its name, what the offending rows do, and which rows offend (a boolean mask)."""

    name: str
    what: str
    columns: tuple[str, ...]
    offending: pd.Series


Usable = Callable[..., bool]


def _outside(values: pd.Series, minimum: float | None, maximum: float | None, open_minimum: bool) -> pd.Series:
    """Values that are not finite or fall outside the range (missing values are the nulls check's)."""
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    inside = np.isfinite(numbers)
    if minimum is not None:
        inside &= numbers > minimum if open_minimum else numbers >= minimum
    if maximum is not None:
        inside &= numbers <= maximum
    return values.notna() & ~pd.Series(inside, index=values.index)


def _range(minimum: float | None, maximum: float | None, open_minimum: bool) -> str:
    """A range as a report writes it: `(0, 1000000]`, `[0, inf]` (whole numbers without an exponent)."""
    low = "-inf" if minimum is None else f"{minimum:.15g}"
    high = "inf" if maximum is None else f"{maximum:.15g}"
    return f"{'(' if open_minimum else '['}{low}, {high}]"


def _a(noun: str) -> str:
    """The noun with its article, so a report line reads `have an amount outside ...`."""
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _range_check(events: pd.DataFrame, spec: Field) -> RowCheck:
    """A number or integer field's declared range (finite values only)."""
    domain = _range(spec.minimum, spec.maximum, spec.open_minimum)
    offending = _outside(events[spec.name], spec.minimum, spec.maximum, spec.open_minimum)
    return RowCheck(f"events.{spec.name}.range", f"have {_a(spec.name)} outside {domain}", (spec.name,), offending)


def _domain_check(events: pd.DataFrame, spec: Field) -> RowCheck:
    """A category field's allowed values."""
    column = events[spec.name]
    offending = column.notna() & ~column.isin(spec.allowed)
    what = f"have {_a(spec.name)} outside {list(spec.allowed)}"
    return RowCheck(f"events.{spec.name}.domain", what, (spec.name,), offending)


def event_row_checks(
    events: pd.DataFrame, use_case: UseCase, as_of: pd.Timestamp, skew: timedelta, usable: Usable | None = None
) -> list[RowCheck]:
    """Every row-level check of the events contract (the report and the landing quarantine share them): each
    field's declared values, each entity key >= 0, unique ids and plausible times."""
    usable = usable or (lambda *columns: all(c in events.columns for c in columns))
    fields = [spec for spec in use_case.fields if usable(spec.name)]
    found = [_range_check(events, spec) for spec in fields if spec.kind != "category"]
    for key in use_case.entity_keys:
        if usable(key):
            found.append(RowCheck(f"events.{key}.range", f"have a negative {key}", (key,), events[key] < 0))
    found += [_domain_check(events, spec) for spec in fields if spec.kind == "category"]
    if usable(EVENT_ID):
        found.append(RowCheck(
            "events.event_id.unique", "share an event_id with another row", (EVENT_ID,),
            events[EVENT_ID].notna() & events[EVENT_ID].duplicated(keep=False),
        ))  # fmt: skip
    if usable(EVENT_TIMESTAMP):
        found.append(RowCheck(
            "events.event_timestamp.future", f"are stamped after {as_of.isoformat()} (+{skew})", (EVENT_TIMESTAMP,),
            events[EVENT_TIMESTAMP] > as_of + skew,
        ))  # fmt: skip
        found.append(RowCheck(
            "events.event_timestamp.epoch", f"are stamped before the platform's epoch {PLATFORM_EPOCH}",
            (EVENT_TIMESTAMP,), events[EVENT_TIMESTAMP] < pd.Timestamp(PLATFORM_EPOCH),
        ))  # fmt: skip
    return found


def _label_check(labels: pd.DataFrame, label: Label) -> RowCheck:
    """A binary label is 0 or 1; a regression label a finite number in its declared range."""
    values = labels[label.name]
    name = f"labels.{label.name}.domain"
    if label.kind == "binary":
        return RowCheck(name, f"have {label.name} not 0/1", (label.name,), values.notna() & ~values.isin([0, 1]))
    domain = _range(label.minimum, label.maximum, open_minimum=False)
    offending = _outside(values, label.minimum, label.maximum, open_minimum=False)
    return RowCheck(name, f"have {label.name} not a finite number in {domain}", (label.name,), offending)


def label_row_checks(
    labels: pd.DataFrame,
    use_case: UseCase,
    event_times: pd.Series | None,
    as_of: pd.Timestamp,
    skew: timedelta,
    usable: Usable | None = None,
) -> list[RowCheck]:
    """Every row-level check of the labels contract. `event_times` maps known event ids to their timestamps
    (None when the events cannot be used: the reference checks are then left out)."""
    usable = usable or (lambda *columns: all(c in labels.columns for c in columns))
    found: list[RowCheck] = []
    if usable(use_case.label.name):
        found.append(_label_check(labels, use_case.label))
    if usable(LABEL_TIMESTAMP):
        found.append(RowCheck(
            "labels.label_timestamp.future", f"are stamped after {as_of.isoformat()}", (LABEL_TIMESTAMP,),
            labels[LABEL_TIMESTAMP] > as_of + skew,
        ))  # fmt: skip
        found.append(RowCheck(
            "labels.label_timestamp.epoch", f"are stamped before the platform's epoch {PLATFORM_EPOCH}",
            (LABEL_TIMESTAMP,), labels[LABEL_TIMESTAMP] < pd.Timestamp(PLATFORM_EPOCH),
        ))  # fmt: skip
    if not usable(EVENT_ID):
        return found
    found.append(RowCheck(
        "labels.event_id.unique", "label the same event twice", (EVENT_ID,),
        labels[EVENT_ID].notna() & labels[EVENT_ID].duplicated(keep=False),
    ))  # fmt: skip
    if event_times is None:
        return found
    known = labels[EVENT_ID].isin(event_times.index)
    found.append(RowCheck(
        "labels.event_id.references", "label an event that is not in the events", (EVENT_ID,),
        labels[EVENT_ID].notna() & ~known,
    ))  # fmt: skip
    if usable(LABEL_TIMESTAMP):
        event_time = labels[EVENT_ID].map(event_times)
        found.append(RowCheck(
            "labels.label_timestamp.order", "arrive before their event happened", (LABEL_TIMESTAMP,),
            known & (labels[LABEL_TIMESTAMP] < event_time),
        ))  # fmt: skip
    return found


def _check_events(
    checks: _Checks, events: pd.DataFrame, use_case: UseCase, as_of: pd.Timestamp, max_age: timedelta, skew: timedelta
) -> None:
    for row_check in event_row_checks(events, use_case, as_of, skew, lambda *c: _usable(checks, events, *c)):
        checks.rows(row_check.name, events, row_check.offending, row_check.what, list(row_check.columns))
    if _usable(checks, events, EVENT_TIMESTAMP):
        stamps = events[EVENT_TIMESTAMP]
        newest = stamps[stamps <= as_of + skew].max()
        fresh = pd.notna(newest) and as_of - newest <= max_age
        checks.add(
            "events.freshness",
            fresh,
            "ok" if fresh else f"newest event {newest} is older than {max_age} before {as_of.isoformat()}",
            [EVENT_TIMESTAMP],
        )


def _check_labels(
    checks: _Checks,
    events: pd.DataFrame,
    labels: pd.DataFrame,
    use_case: UseCase,
    as_of: pd.Timestamp,
    skew: timedelta,
) -> None:
    event_times = None
    if _usable(checks, events, EVENT_ID, EVENT_TIMESTAMP) and not events[EVENT_ID].duplicated().any():
        event_times = events.set_index(EVENT_ID)[EVENT_TIMESTAMP]
    elif _usable(checks, events, EVENT_ID):
        event_times = pd.Series(pd.NaT, index=events[EVENT_ID].drop_duplicates(), dtype="datetime64[ns, UTC]")
    row_checks = label_row_checks(labels, use_case, event_times, as_of, skew, lambda *c: _usable(checks, labels, *c))
    for row_check in row_checks:
        checks.rows(row_check.name, labels, row_check.offending, row_check.what, list(row_check.columns))


def validate_raw_data(
    events: pd.DataFrame,
    labels: pd.DataFrame,
    use_case: UseCase,
    as_of: datetime,
    max_event_age: timedelta = timedelta(days=3),
    future_tolerance: timedelta = timedelta(minutes=5),
) -> ValidationReport:
    """Run every check of `use_case`'s contract; a check that cannot run (its column is missing or mistyped) is
    left out, not crashed."""
    checks = _Checks()
    moment = pd.Timestamp(as_of).tz_convert("UTC")
    _check_schema(checks, "events", events, use_case.event_columns)
    _check_schema(checks, "labels", labels, use_case.label_columns)
    _check_events(checks, events, use_case, moment, max_event_age, future_tolerance)
    _check_labels(checks, events, labels, use_case, moment, future_tolerance)
    report = ValidationReport(checks.results, moment.isoformat())
    logger.info("data contract: %s", report.summary() if report.passed else f"{len(report.failures)} checks failed")
    return report


def write_report(report: ValidationReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")


def load_raw_data(events_path: Path, labels_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read both tables as they are (no coercion: the contract judges what was delivered)."""
    frames = []
    for path in (events_path, labels_path):
        if not path.is_file():
            raise DriftloopError(f"{path} does not exist")
        try:
            frames.append(pd.read_parquet(path))
        except Exception as error:  # noqa: BLE001 - any unreadable file is one clear message
            raise DriftloopError(f"{path} is not a readable parquet file: {error}") from error
    return frames[0], frames[1]
