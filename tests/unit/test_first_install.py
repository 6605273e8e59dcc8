"""What the cluster's Feast job runs on a fresh install: seeding data once, and a materialise with nothing to load."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner


def _driftloop(*args: str) -> str:
    from driftloop.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_data_generate_if_missing_seeds_once_and_never_overwrites(state_dir: Path) -> None:
    events = state_dir / "data" / "raw" / "events.parquet"
    assert "wrote" in _driftloop("data", "generate", "--if-missing", "--days", "2", "--size", "20")
    first = events.read_bytes()
    output = _driftloop("data", "generate", "--if-missing", "--days", "3", "--seed", "7")
    assert "left as it is" in output and events.read_bytes() == first
    assert "wrote" in _driftloop("data", "generate", "--days", "3", "--seed", "7", "--size", "20")
    assert events.read_bytes() != first


def test_materialize_before_the_first_feature_build_is_a_no_op_not_a_failure(state_dir: Path) -> None:
    output = _driftloop("features", "materialize")
    assert "nothing to materialise yet" in output and "offline/customer_stats" in output
