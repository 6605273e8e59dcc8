"""Unreadable files moved aside: one torn or corrupt part must not stop every reader of the store.

A reader that cannot parse a part (garbage bytes, a torn write, a disk error) moves it into the store's
`quarantine/unreadable/` with a record of why, logs it, and goes on without it. The record is written before the
file is moved, so a listed file always has its reason; a person can repair it and put it back. Errors that say
nothing about the file (a network error on the object store, a file a compaction removed) are not reasons: they
are raised, and the file stays where it is. A torn line of a JSON-lines log is recorded the same way, beside it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from pipelines.data.storage import Folder

logger = logging.getLogger(__name__)

RECORD_SUFFIX = ".reason.json"
# What the object store's client says when the bytes it fetched are bad, not when fetching them failed.
CORRUPTION_MARKERS = ("magic bytes", "Corrupt", "corrupt", "deserialize", "Unexpected end", "size is 0 bytes")


@dataclass(frozen=True)
class UnreadableFile:
    """A file (or one line of a log) moved aside.

    Attributes:
        file: where it was (its full name, as readers saw it).
        moved_to: where it is now (None for a log line: the line stays in its log and is skipped).
        reason: the reader's error, as it said it.
        quarantined_at: when (UTC, ISO-8601).
    """

    file: str
    moved_to: str | None
    reason: str
    quarantined_at: str


def unreadable_reason(error: BaseException, remote: bool) -> str | None:
    """Why a file is unreadable, from the error a reader raised; None when the error is about reaching the file
    (the reader then fails as before: moving a good file aside on a network hiccup would lose data)."""
    import pyarrow as pa

    if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
        return None
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, pa.ArrowException) and not isinstance(error, OSError):
        return text  # ArrowInvalid and kin: the bytes are not the parquet they claim to be
    if isinstance(error, OSError):
        return text if not remote or any(marker in str(error) for marker in CORRUPTION_MARKERS) else None
    return None


def _flat(name: str) -> str:
    """One file name for a relative path (the quarantine is one flat folder, so one listing shows it all)."""
    return name.replace("/", "__")


def quarantine_file(folder: Folder, name: str, quarantine: Folder, area: str, reason: str) -> UnreadableFile:
    """Move `folder/name` into `quarantine` with its reason (`area`: which part set it came from, e.g. `labels`).
    Two readers racing over one file are fine: the second finds it gone."""
    flat = _flat(f"{area}/{name}" if area else name)
    record = UnreadableFile(folder.uri(name), quarantine.uri(flat), reason, datetime.now(UTC).isoformat())
    quarantine.write_text(flat + RECORD_SUFFIX, json.dumps(asdict(record), indent=2))
    try:
        folder.move(name, quarantine, flat)
    except FileNotFoundError:
        pass  # another reader moved it first
    except OSError as error:  # e.g. a reader without write access: it still goes on without the file
        logger.warning("could not move unreadable %s aside (%s); skipping it", folder.uri(name), error)
    logger.warning("quarantined unreadable %s: %s (moved to %s)", record.file, reason, record.moved_to)
    return record


def record_torn_line(log: Folder, log_name: str, line: int, reason: str, quarantine: Folder) -> UnreadableFile:
    """Note a torn line of a log (every reader skips it) once: its record is named by log and line."""
    name = f"{_flat(log_name)}.line-{line}{RECORD_SUFFIX}"
    record = UnreadableFile(f"{log.uri(log_name)}#line-{line}", None, reason, datetime.now(UTC).isoformat())
    if not quarantine.exists(name):
        quarantine.write_text(name, json.dumps(asdict(record), indent=2))
        logger.warning("skipping torn line %d of %s: %s", line, log_name, reason)
    return record


def unreadable_files(quarantine: Folder) -> list[UnreadableFile]:
    """Every file and log line moved aside, oldest first."""
    records = []
    for name in quarantine.files(f"*{RECORD_SUFFIX}"):
        text = quarantine.read_text(name)
        if text is None:
            continue
        try:
            records.append(UnreadableFile(**json.loads(text)))
        except (ValueError, TypeError) as error:
            records.append(UnreadableFile(quarantine.uri(name), None, f"its reason record is unreadable: {error}", ""))
    return sorted(records, key=lambda record: record.quarantined_at)
