"""`--param` typing and the run record's format: what `pipeline submit`, `runs` and `get` stand on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftloop.pipeline_runs.pipeline_parameters import ParameterSpec, effective_parameters, parse_parameters
from driftloop.pipeline_runs.run_record import FORMAT_VERSION, RunRecord, RunRecordStore, StepRecord
from pipelines.core.errors import DriftloopError

SPECS = {
    "name": ParameterSpec("name", "String", "world", optional=True),
    "times": ParameterSpec("times", "Integer", 2.0, optional=True),
    "rate": ParameterSpec("rate", "Float", None),
    "dry": ParameterSpec("dry", "Boolean", False, optional=True),
    "tags": ParameterSpec("tags", "List", None, optional=True),
    "data": ParameterSpec("data", "system.Dataset@0.0.1", None, optional=True),
}
SPEC_SET_BY_RUNNER = ParameterSpec("mlflow_run_id", "String", "", optional=True)


def test_each_value_takes_its_declared_type() -> None:
    given = ["name=a=b", "times=3", "rate=0.5", "dry=TRUE", 'tags=["x", 1]']
    assert parse_parameters(SPECS, given) == {"name": "a=b", "times": 3, "rate": 0.5, "dry": True, "tags": ["x", 1]}
    assert parse_parameters(SPECS, ["rate=1", "dry=no"]) == {"rate": 1.0, "dry": False}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["rate=1", "times=2.5"], "--param times='2.5': times takes an integer"),
        (["rate=fast"], "--param rate='fast': rate takes a number"),
        (["rate=1", "dry=maybe"], "dry takes a boolean (true or false)"),
        (["rate=1", "tags={}"], "tags takes a JSON list"),
        (["rate=1", "tags=[1"], "tags takes a JSON list; "),
        (["rate=1", "colour=red"], "colour is not a parameter of this pipeline (its parameters: dry, name, rate,"),
        (["rate=1", "data=x"], "data is an artifact input"),
        (["rate"], "--param 'rate' is not name=value"),
        (["rate=1", "rate=2"], "--param rate given twice"),
        ([], "missing required parameter(s): rate"),
    ],
)
def test_bad_parameters_are_refused_naming_the_problem(pairs: list[str], message: str) -> None:
    with pytest.raises(DriftloopError) as refused:
        parse_parameters(SPECS, pairs)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_parameter_the_runner_sets_is_refused() -> None:
    with pytest.raises(DriftloopError, match="mlflow_run_id is set by the runner"):
        parse_parameters({"mlflow_run_id": SPEC_SET_BY_RUNNER}, ["mlflow_run_id=x"], fixed=["mlflow_run_id"])


def test_the_record_shows_defaults_as_their_type() -> None:
    assert effective_parameters(SPECS, {"rate": 0.5}) == {
        "name": "world",
        "times": 2,
        "dry": False,
        "tags": None,
        "rate": 0.5,
    }


def _record(run_id: str, submitted_at: str) -> RunRecord:
    return RunRecord(
        id=run_id,
        pipeline="two-steps",
        source="/p/two_steps.py",
        mode="local",
        submitted_at=submitted_at,
        submitted_by="ada@host",
        steps=[StepRecord("a"), StepRecord("b")],
    )


def test_a_record_round_trips_through_its_file_with_durations(tmp_path: Path) -> None:
    store = RunRecordStore(tmp_path)
    record = _record("20261205T100000-aaaaaa", "2026-12-05T10:00:00.000+00:00")
    record.steps[0] = StepRecord("a", "succeeded", "2026-12-05T10:00:01.000+00:00", "2026-12-05T10:00:03.500+00:00")
    record.steps[1].status = "running"
    record.finish("failed", "boom")
    store.save(record)
    raw = json.loads(store.path(record.id).read_text())
    assert raw["format"] == FORMAT_VERSION and raw["steps"][0]["duration_s"] == 2.5
    assert [s["status"] for s in raw["steps"]] == ["succeeded", "failed"], "the step left running failed with it"
    loaded = store.load(record.id)
    assert loaded == record and loaded.duration_s == record.duration_s
    assert list(tmp_path.iterdir()) == [store.path(record.id)], "no temporary file left beside it"


def test_steps_that_never_started_are_skipped_when_a_run_ends() -> None:
    record = _record("r", "2026-12-05T10:00:00+00:00")
    record.steps[0].status = "succeeded"
    record.finish("succeeded")
    assert [s.status for s in record.steps] == ["succeeded", "skipped"]


def test_runs_are_found_newest_first_by_id_prefix_or_kfp_id(tmp_path: Path) -> None:
    store = RunRecordStore(tmp_path)
    older = _record("20261205T100000-aaaaaa", "2026-12-05T10:00:00.000+00:00")
    newer = _record("20261205T110000-bbbbbb", "2026-12-05T11:00:00.000+00:00")
    newer.kfp_run_id = "kfp-123"
    for record in (older, newer):
        store.save(record)
    assert [r.id for r in store.all()] == [newer.id, older.id]
    assert store.find("20261205T10").id == older.id and store.find("kfp-123").id == newer.id
    with pytest.raises(DriftloopError, match="names 2 runs"):
        store.find("20261205")
    with pytest.raises(DriftloopError, match="no pipeline run 'zzz'"):
        store.find("zzz")


def test_a_record_of_another_format_is_refused() -> None:
    raw = {**_record("r", "t").to_json(), "format": 99}
    with pytest.raises(DriftloopError, match="format 99"):
        RunRecord.from_json(raw)
