"""What changed in a folder of parts since the last look, without listing what did not.

Why: the event index looks for new parts on every label request, and most directories (past days, past hours)
never change again. A directory's mtime moves whenever an entry is added, renamed in or removed, so an unchanged
mtime means an unchanged listing; except within the file system's timestamp granularity, where two changes can
share one mtime, so a directory changed in the last `RECENT_S` is always read again (the answer git gives its
"racily clean" files). A look then costs a `stat` per directory plus a listing of the directories that changed.
Object-store folders have no mtime: they are listed whole each time, and compared.
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
import time
from collections.abc import Callable

from pipelines.data.storage import Folder, directory_entries

RECENT_S = 2.0  # coarser than any local file system's mtime granularity we run on


class ListingCache:
    """For each (folder, pattern): the directories holding its matches whose matches changed since last asked."""

    def __init__(self) -> None:
        self._directories: dict[tuple[str, str], tuple[int, list[str]]] = {}  # (path, segment) -> mtime, names
        self._reported: dict[tuple[str, str], dict[str, list[str]]] = {}  # (folder, pattern) -> prefix -> names
        self._lock = threading.Lock()

    def changed(self, folder: Folder, pattern: str) -> dict[str, list[str]]:
        """{prefix of a directory (`date=2026-01-01/`, or '' at the top): the names in it that match `pattern`,
        relative to it} for each directory whose matches changed since the last call (a directory gone: [])."""
        with self._lock:
            reported = self._reported.setdefault((folder.url, pattern), {})
            current = self._remote(folder, pattern) if folder.remote else self._local(folder, pattern)
            changes = {prefix: names for prefix, names in current.items() if reported.get(prefix) is not names}
            changes.update({prefix: [] for prefix in reported.keys() - current.keys()})
            self._reported[(folder.url, pattern)] = current
            return changes

    def forget(self, folder: Folder) -> None:
        """Report every directory of `folder` as changed next time (its caller could not finish taking them in)."""
        with self._lock:
            for key in [key for key in self._reported if key[0] == folder.url]:
                del self._reported[key]

    def _local(self, folder: Folder, pattern: str) -> dict[str, list[str]]:
        segments = pattern.split("/")
        found: dict[str, list[str]] = {}

        def visit(path: str, prefix: str, depth: int) -> None:
            last = depth == len(segments) - 1
            names = self._matches(path, segments[depth], files=last)
            if last:
                if names:
                    found[prefix] = names
                return
            for name in names:
                visit(f"{path}/{name}", f"{prefix}{name}/", depth + 1)

        visit(str(folder.local_path), "", 0)
        return found

    def _matches(self, path: str, segment: str, files: bool) -> list[str]:
        """The directory's files (or subdirectories) matching `segment`: the same list object while unchanged."""
        try:
            mtime = os.stat(path).st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            return []
        cached = self._directories.get((path, segment))
        if cached is not None and cached[0] == mtime and time.time_ns() - mtime > RECENT_S * 1e9:
            return cached[1]
        match = _matcher(segment)
        names = sorted(name for name, is_dir in directory_entries(path) if is_dir != files and match(name))
        if cached is not None and cached[1] == names:
            names = cached[1]  # unchanged: the same object, so a caller compares by identity
        self._directories[(path, segment)] = (mtime, names)
        return names

    def _remote(self, folder: Folder, pattern: str) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for name in folder.files(pattern):
            prefix, _, base = name.rpartition("/")
            grouped.setdefault(f"{prefix}/" if prefix else "", []).append(base)
        previous = self._reported.get((folder.url, pattern), {})
        return {
            prefix: previous[prefix] if previous.get(prefix) == names else names for prefix, names in grouped.items()
        }


_matchers: dict[str, Callable[[str], object]] = {}


def _matcher(segment: str) -> Callable[[str], object]:
    if segment not in _matchers:
        _matchers[segment] = re.compile(fnmatch.translate(segment)).match
    return _matchers[segment]
