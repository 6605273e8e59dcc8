"""Part sets and compaction on real files: a reader sees every row exactly once at every moment of a compaction
(a real SIGKILL right after its publication included), and an unreadable part is moved aside, not fatal."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pipelines.data.compaction import compact, finish_retirements, remove_stale_temporaries
from pipelines.data.crash_points import CRASH_AT_VARIABLE
from pipelines.data.part_set import PartSet, is_compacted
from pipelines.data.storage import Folder, unique_part_name
from pipelines.data.unreadable_files import unreadable_files

CRASH_AFTER_PUBLISHING = """
import sys
from pipelines.data.compaction import compact
from pipelines.data.part_set import PartSet
from pipelines.data.storage import Folder

folder = Folder.at(sys.argv[1])
compact(PartSet(folder, ("day=*/part-*.parquet",), folder.child("quarantine"), "rows"))
"""


@pytest.fixture
def parts(tmp_path: Path) -> PartSet:
    """Six parts of three rows in one day folder, two in another (written oldest first, as landings are)."""
    folder = Folder.at(tmp_path / "store")
    for index in range(8):
        day = "day=1" if index < 6 else "day=2"
        rows = pd.DataFrame({"id": [f"r{index}-{n}" for n in range(3)], "part": index})
        folder.write_parquet(rows, f"{day}/{unique_part_name()}")
    return PartSet(folder, ("day=*/part-*.parquet",), folder.child("quarantine"), "rows")


def _rows(parts: PartSet, listing: object = None) -> list[str]:
    frames = parts.read(parts.folder.read_parquet, listing)  # type: ignore[arg-type]
    return pd.concat(frames, ignore_index=True)["id"].tolist() if frames else []


EVERY_ROW = [f"r{index}-{n}" for index in range(8) for n in range(3)]


def test_a_compaction_replaces_small_parts_by_one_with_every_row_once_in_order(parts: PartSet) -> None:
    outcome = compact(parts)
    assert (outcome.folders, outcome.parts_in, outcome.parts_out, outcome.rows) == (2, 8, 2, 24)
    names = parts.listing()
    assert len(names) == 2 and all(is_compacted(name) for name in names), "the inputs are gone"
    assert _rows(parts) == EVERY_ROW, "the order readers saw is kept"
    assert compact(parts).parts_in == 0, "one part per folder: nothing more to do"


def test_killed_right_after_publishing_readers_still_see_each_row_once_and_the_next_run_finishes(
    parts: PartSet,
) -> None:
    env = {**os.environ, CRASH_AT_VARIABLE: "compaction.published"}
    killed = subprocess.run([sys.executable, "-c", CRASH_AFTER_PUBLISHING, parts.folder.url], env=env, check=False)
    assert killed.returncode == -9, "SIGKILLed at the crash point"
    names = parts.listing()
    assert sum(is_compacted(name) for name in names) == 1 and len(names) == 9, "published, no input deleted yet"
    assert _rows(parts) == EVERY_ROW, "the inputs the compacted part names are left out: no row twice"
    assert finish_retirements(parts) == 6
    assert _rows(parts) == EVERY_ROW and len(parts.listing()) == 3

    # A writer killed before its rename leaves a hidden temporary: no reader sees it; once stale, it goes.
    temporary = parts.folder.local_path / "day=1" / ".part-9.parquet.4242.tmp"
    temporary.write_bytes(b"half a part")
    assert _rows(parts) == EVERY_ROW
    os.utime(temporary, (time.time() - 7200, time.time() - 7200))
    assert remove_stale_temporaries(parts) == 1 and not temporary.exists()


def test_a_reader_that_listed_before_a_compaction_lists_again_and_misses_nothing(parts: PartSet) -> None:
    before = parts.listing()
    compact(parts)
    listings = iter([before])
    stale_then_fresh = lambda: next(listings, None) or parts.listing()  # noqa: E731
    assert _rows(parts, stale_then_fresh) == EVERY_ROW


def test_an_unreadable_part_is_moved_aside_with_its_reason_and_reads_and_compaction_go_on(parts: PartSet) -> None:
    torn = parts.folder.local_path / "day=1" / "part-0-torn.parquet"
    whole = (parts.folder.local_path / parts.listing()[-1]).read_bytes()
    torn.write_bytes(whole[: len(whole) // 2])  # a write cut in half
    garbage = parts.folder.local_path / "day=2" / "part-1-garbage.parquet"
    garbage.write_bytes(os.urandom(100))
    assert sorted(_rows(parts)) == sorted(EVERY_ROW)
    moved = unreadable_files(parts.quarantine)
    assert sorted(Path(record.file).name for record in moved) == ["part-0-torn.parquet", "part-1-garbage.parquet"]
    assert all("magic bytes" in record.reason for record in moved)
    assert not torn.exists() and all(Path(str(record.moved_to)).exists() for record in moved)
    assert compact(parts).parts_in == 8

    late = parts.folder.local_path / "day=2" / "part-9-late-garbage.parquet"
    late.write_bytes(b"PAR1 not really")
    assert compact(parts).parts_in == 0 and not late.exists(), "an unreadable input is set aside, not compacted"
    assert _rows(parts) == EVERY_ROW and len(unreadable_files(parts.quarantine)) == 3


def test_a_part_compacted_twice_that_comes_back_under_its_name_is_still_read_once(parts: PartSet) -> None:
    """The prediction log republishes a segment under the same part names after a crash; if those parts were
    compacted twice meanwhile, the second compacted file still names them (the first's list carried forward)."""
    from pipelines.data.compaction import MIN_PARTS

    first_name = parts.listing()[0]
    first_rows = parts.folder.read_parquet(first_name)
    compact(parts)
    for index in range(MIN_PARTS):
        rows = pd.DataFrame({"id": [f"late{index}"], "part": 100 + index})
        parts.folder.write_parquet(rows, f"day=1/{unique_part_name()}")
    compact(parts)
    assert sum(is_compacted(name) for name in parts.listing() if name.startswith("day=1/")) == 1
    parts.folder.write_parquet(first_rows, first_name)  # the republished part, back under its old name
    rows = _rows(parts)
    assert len(rows) == len(set(rows)) == len(EVERY_ROW) + MIN_PARTS
