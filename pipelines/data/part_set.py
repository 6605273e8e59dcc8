"""The parts a reader reads: a folder's parquet files, less those a compacted file replaced, less unreadable ones.

Compaction (`pipelines.data.compaction`) publishes one file in place of many, and names the parts it replaces inside
it (its footer's `driftloop.retires`), then deletes them. A reader lists the folder once and leaves out every
part a listed compacted file names, so it reads each row once whether it listed before the compacted file
appeared, after the inputs went, or in between. A part deleted between the listing and the read means a
compaction finished meanwhile: the reader lists again and starts over. A part that cannot be parsed is moved to
quarantine with its reason (`pipelines.data.unreadable_files`) and the read goes on without it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from pipelines.data.storage import Folder
from pipelines.data.unreadable_files import quarantine_file, unreadable_reason

logger = logging.getLogger(__name__)

T = TypeVar("T")
COMPACTED_SUFFIX = ".compacted.parquet"
RETIRES_KEY = b"driftloop.retires"
READ_ATTEMPTS = 3  # a read overlapping a compaction lists again; three in a row would mean something is wrong

_retired_cache: dict[tuple[str, str], frozenset[str]] = {}  # compacted files never change: read each footer once
_cache_lock = threading.Lock()


def is_compacted(name: str) -> bool:
    return name.endswith(COMPACTED_SUFFIX)


def folder_of(name: str) -> str:
    """The folder part of a relative name, with its trailing slash ('' at the top)."""
    return name.rsplit("/", 1)[0] + "/" if "/" in name else ""


class PartVanished(FileNotFoundError):
    """A listed part was gone when read: a compaction replaced it meanwhile."""


@dataclass(frozen=True)
class PartSet:
    """One kind of part of a store.

    Attributes:
        folder: where the parts live.
        patterns: which names are parts (`Folder.files` patterns, e.g. `date=*/part-*.parquet`).
        quarantine: where unreadable parts are moved, with their reasons.
        area: the part set's name in quarantine records (`landed`, `labels`, `predictions`).
    """

    folder: Folder
    patterns: tuple[str, ...]
    quarantine: Folder
    area: str

    def listing(self) -> list[str]:
        return sorted(name for pattern in self.patterns for name in self.folder.files(pattern))

    def live(self, names: Iterable[str] | None = None) -> list[str]:
        """The parts to read, from a listing (this part set's own when None): compacted ones' inputs left out."""
        listed = self.listing() if names is None else list(names)
        retired: set[str] = set()
        for name in listed:
            if is_compacted(name):
                retired |= self.retired_by(name)
        return [name for name in listed if name not in retired]

    def retired_by(self, name: str) -> frozenset[str]:
        """The parts a compacted file replaces (names in this part set); unreadable: quarantined, none."""
        key = (self.folder.url, name)
        with _cache_lock:
            if key in _retired_cache:
                return _retired_cache[key]
        try:
            metadata = self.folder.read_footer(name).metadata or {}
        except FileNotFoundError as error:
            raise PartVanished(name) from error
        except Exception as error:
            if self.set_aside(name, error):
                return frozenset()
            raise
        retired = frozenset(folder_of(name) + sibling for sibling in json.loads(metadata.get(RETIRES_KEY, b"[]")))
        with _cache_lock:
            _retired_cache[key] = retired
        return retired

    def set_aside(self, name: str, error: BaseException) -> bool:
        """Quarantine `name` when `error` says it is unreadable; False when the error is about something else."""
        reason = unreadable_reason(error, self.folder.remote)
        if reason is None:
            return False
        quarantine_file(self.folder, name, self.quarantine, self.area, reason)
        return True

    def read_one(self, name: str, read: Callable[[str], T]) -> tuple[bool, T | None]:
        """(True, what `read` returned), or (False, None) when the part was unreadable and set aside."""
        try:
            return True, read(name)
        except FileNotFoundError as error:
            raise PartVanished(name) from error
        except Exception as error:
            if self.set_aside(name, error):
                return False, None
            raise

    def read(self, read: Callable[[str], T], listing: Callable[[], list[str]] | None = None) -> list[T]:
        """`read` applied to every live part (of `listing()`, or of the whole part set), in name order."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                names = self.live(listing() if listing is not None else None)
                values = []
                for name in names:
                    ok, value = self.read_one(name, read)
                    if ok:
                        values.append(value)
                return values  # type: ignore[return-value]
            except PartVanished as vanished:
                if attempt == READ_ATTEMPTS:
                    raise
                logger.info("%s went while being read (compacted meanwhile): listing again", vanished)
        raise AssertionError("unreachable")
