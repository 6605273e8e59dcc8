"""JSON-lines logs that survive a torn line: readers skip it with its reason, writers never glue onto it.

An append interrupted by a kill or a full disk leaves a fragment at the end of the log. Read naively, that line
fails `json.loads` in every later reader; appended after naively, the next record is glued onto the fragment and
lost too. Here a reader keeps every whole record and reports the torn lines, and an append first ends the
fragment's line, so the fragment stays one torn line and the new record a whole one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TornLine:
    """A line no reader can use: its number (from 1), why, and its first characters."""

    line: int
    reason: str
    text: str


def parse_lines(text: str) -> tuple[list[dict[str, Any]], list[TornLine]]:
    """The log's records in order, and its torn lines (a line that is not one JSON object)."""
    records: list[dict[str, Any]] = []
    torn: list[TornLine] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            torn.append(TornLine(number, f"not JSON ({error})", line[:200]))
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            torn.append(TornLine(number, f"not a JSON object (a {type(record).__name__})", line[:200]))
    return records, torn


def joined(text: str, record: dict[str, Any]) -> str:
    """`text` with `record` appended on a line of its own (after a fragment, the fragment's line is ended)."""
    separator = "\n" if text and not text.endswith("\n") else ""
    return f"{text}{separator}{json.dumps(record, default=str)}\n"


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append `record` as one line, fsynced; a fragment left at the end by a torn write is ended first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        handle.seek(0, os.SEEK_END)
        separator = b""
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            separator = b"" if handle.read(1) == b"\n" else b"\n"
        handle.write(separator + json.dumps(record, default=str).encode() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
