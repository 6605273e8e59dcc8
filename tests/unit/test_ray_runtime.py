"""Where a local Ray keeps its session: a path short enough for its Unix sockets (the parity run's task, whose
TMPDIR is deep, could not start Ray: its search fell back to the fixed configuration)."""

from __future__ import annotations

from pathlib import Path

from pipelines.core.ray_runtime import RAY_SOCKET_SUFFIX, UNIX_SOCKET_PATH_MAX, short_temp_root


def test_a_short_temporary_folder_is_kept() -> None:
    assert short_temp_root("/tmp") == "/tmp"


def test_a_deep_temporary_folder_gives_way_to_tmp(tmp_path: Path) -> None:
    deep = str(tmp_path / ("d" * 60))
    assert len(deep) + RAY_SOCKET_SUFFIX > UNIX_SOCKET_PATH_MAX
    assert short_temp_root(deep) == "/tmp"


def test_without_a_usable_fallback_python_chooses(tmp_path: Path) -> None:
    assert short_temp_root(str(tmp_path / ("d" * 60)), fallback=str(tmp_path / "missing")) is None
