"""Many Arrow tables as one pandas frame, converted once: the frame pandas would have built from the tables one
by one, also when a column is missing from older tables or the tables' types do not line up (those go one by one)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.data.arrow_frames import tables_frame
from pipelines.data.prediction_log_format import read_prediction_log


def _one_by_one(tables: list[pa.Table]) -> pd.DataFrame:
    return pd.concat([table.to_pandas() for table in tables], ignore_index=True)


def _part(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


OLD = pd.DataFrame({
    "event_id": pd.Series(["a", None], dtype="string"),
    "prediction": [0.1, 0.2],
    "logged_at": pd.to_datetime(["2026-12-01T10:00:00", "2026-12-01T10:00:01"], utc=True),
})  # fmt: skip
NEW = OLD.assign(model_version=["2", "2"], amount=[12, 13])  # a later writer added columns


@pytest.mark.parametrize(
    "frames",
    [[OLD, OLD], [OLD, NEW], [NEW, OLD, NEW]],
    ids=["same columns", "a column added later", "old and new interleaved"],
)
def test_the_frame_is_the_one_pandas_builds_table_by_table(frames: list[pd.DataFrame]) -> None:
    tables = [_part(frame) for frame in frames]
    got = tables_frame(tables)
    pd.testing.assert_frame_equal(got, _one_by_one(tables))
    assert got.index.equals(pd.RangeIndex(sum(len(frame) for frame in frames)))
    if "model_version" in got.columns:  # a text column an older table lacks is NaN there, as pandas fills it
        older = [value for value in got["model_version"] if value != "2"]
        assert older and all(isinstance(value, float) for value in older), older  # (Arrow's promotion: None)


def test_tables_whose_types_do_not_line_up_are_converted_one_by_one() -> None:
    tables = [_part(NEW), _part(NEW.assign(amount=["twelve", "thirteen"]))]  # Arrow cannot concatenate these
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        pa.concat_tables(tables, promote_options="default")
    pd.testing.assert_frame_equal(tables_frame(tables), _one_by_one(tables))


def test_tables_of_one_schema_are_converted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    tables = [_part(NEW)] * 3
    expected = _one_by_one(tables)

    def no_concat(*args: object, **kwargs: object) -> pd.DataFrame:
        raise AssertionError("converted table by table")

    monkeypatch.setattr(pd, "concat", no_concat)
    pd.testing.assert_frame_equal(tables_frame(tables), expected)


def test_the_log_reads_parts_of_old_and_new_writers_as_one_frame(tmp_path: Path) -> None:
    folder = tmp_path / "date=2026-12-01" / "hour=10"
    folder.mkdir(parents=True)
    pq.write_table(_part(OLD), folder / "part-1.parquet")
    pq.write_table(_part(NEW.assign(logged_at=NEW["logged_at"] + pd.Timedelta(seconds=5))), folder / "part-2.parquet")
    log = read_prediction_log(tmp_path)
    assert len(log) == 4 and list(log.columns) == list(NEW.columns)
    assert log["model_version"].isna().tolist() == [True, True, False, False]
    assert log["amount"].tolist()[2:] == [12, 13]
    narrow = read_prediction_log(tmp_path, columns=["model_version"])
    assert list(narrow.columns) == ["logged_at", "model_version"] and len(narrow) == 4
