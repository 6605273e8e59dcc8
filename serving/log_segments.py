"""Append-only segments on local disk: where answered rows become durable before they are published.

Why: the prediction log publishes parquet parts about once a second (every 30 s to an object store); rows
waiting in memory for that are lost to a SIGKILL or an OOM kill. A segment takes each batch of rows as one
framed record and is fsynced per batch (group commit), so a kill loses at most the rows of the batch being
written. A record is `length | crc32 | Arrow IPC stream bytes`; a reader keeps every whole record and stops at
the first torn or corrupt one (the tail a kill or a full disk left), reporting what it skipped.

Each server process owns one folder of segments (`<wal_dir>/<instance>/`) and holds an exclusive lock on it
while it runs. A folder whose lock nobody holds belongs to a process that is gone: its segments are adopted
and published by the next process that looks (`orphaned_folders`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pandas as pd

from pipelines.data.arrow_frames import tables_frame
from pipelines.data.storage import fsync_path

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

HEADER = struct.Struct("<II")  # payload length, crc32 of the payload
SEGMENT_SUFFIX = ".segment"  # a closed segment, ready to publish
OPEN_SUFFIX = ".open"  # the segment its owner is still writing
LOCK_FILE = ".owner.lock"
MAX_RECORD_BYTES = 1 << 30  # a length above this is a torn header, not a record


def encode(frame: pd.DataFrame) -> bytes:
    """One record: the frame as an Arrow IPC stream (schema and pandas metadata included), framed."""
    import pyarrow as pa

    return encode_table(pa.Table.from_pandas(frame, preserve_index=False))


def encode_table(table: pa.Table) -> bytes:
    """One record: an Arrow table (its schema's pandas metadata says how readers turn it back into a frame)."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    payload = sink.getvalue().to_pybytes()
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


@dataclass(frozen=True)
class SegmentContents:
    """A segment's whole records (Arrow tables, one per record), and how many bytes of a torn tail were skipped."""

    records: list[pa.Table]
    torn_bytes: int  # bytes after the last whole record (0 for a segment closed cleanly)

    def frame(self) -> pd.DataFrame | None:
        """Every record's rows in order as one frame (None without records). One conversion to pandas for the
        whole segment: a second's twenty records converted one by one cost 18-21 ms of the publisher's
        interpreter time, at once about 3 ms; records whose types do not line up are converted one by one."""
        return tables_frame(self.records) if self.records else None


def read_segment(path: Path) -> SegmentContents:
    """Every whole record of a segment, in order; a torn or corrupt tail is counted, never raised."""
    import pyarrow as pa

    data = path.read_bytes()
    records: list[pa.Table] = []
    offset = 0
    while offset + HEADER.size <= len(data):
        length, checksum = HEADER.unpack_from(data, offset)
        start, end = offset + HEADER.size, offset + HEADER.size + length
        if length > MAX_RECORD_BYTES or end > len(data) or zlib.crc32(data[start:end]) != checksum:
            break
        records.append(pa.ipc.open_stream(data[start:end]).read_all())
        offset = end
    return SegmentContents(records, len(data) - offset)


class SegmentWriter:
    """The open segment of one process: records appended and fsynced, rolled over on `seal`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sequence = max((int(p.stem) for p in folder.glob("*[0-9].*")), default=0)
        self._handle: IO[bytes] | None = None
        self._good_size = 0
        self.open_path: Path | None = None

    def append(self, record: bytes) -> None:
        """Write one record and fsync it; on failure (a full disk) cut the segment back to its last whole
        record, so the rows can be written again later without leaving a torn record in the middle."""
        if self._handle is None:
            self._sequence += 1
            self.open_path = self.folder / f"{self._sequence:012d}{OPEN_SUFFIX}"
            self._handle = self.open_path.open("ab")
            self._good_size = 0
            fsync_path(self.folder)
        try:
            self._handle.write(record)
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                self._handle.truncate(self._good_size)
                self._handle.seek(self._good_size)
            raise
        self._good_size += len(record)

    def seal(self) -> Path | None:
        """Close the open segment and give it its publishable name (the next append opens a new one)."""
        if self._handle is None or self.open_path is None:
            return None
        self._handle.close()
        self._handle = None
        sealed = self.open_path.with_suffix(SEGMENT_SUFFIX)
        self.open_path.rename(sealed)
        fsync_path(self.folder)
        self.open_path = None
        return sealed


def sealed_segments(folder: Path, including_open: bool = False) -> list[Path]:
    """The folder's closed segments in order; with `including_open`, a dead owner's open one too."""
    found = list(folder.glob(f"*{SEGMENT_SUFFIX}"))
    if including_open:
        found += folder.glob(f"*{OPEN_SUFFIX}")
    return sorted(found, key=lambda path: int(path.stem))


def remove_segment(path: Path) -> None:
    path.unlink(missing_ok=True)
    fsync_path(path.parent)


class FolderLock:
    """An exclusive, non-blocking lock on a segments folder, held for the life of its owner (the kernel drops
    it when the process dies, however it dies)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._descriptor: int | None = None

    def acquire(self) -> bool:
        descriptor = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._descriptor = descriptor
        return True

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


def new_instance_folder(wal_dir: Path) -> tuple[Path, FolderLock]:
    """This process's own folder, locked before it gets its name (an orphan scan skips names starting with a
    dot), so no other process can take it for a dead one's; named by host and pid, never reused by a restart."""
    name = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
    creating = wal_dir / f".{name}"
    creating.mkdir(parents=True, mode=0o700)
    lock = FolderLock(creating)
    if not lock.acquire():  # pragma: no cover - a fresh, uniquely named folder
        raise RuntimeError(f"cannot lock the new prediction log segments folder {creating}")
    folder = wal_dir / name
    creating.rename(folder)
    lock.folder = folder
    fsync_path(wal_dir)
    return folder, lock


@contextlib.contextmanager
def orphaned_folders(wal_dir: Path, own: Path) -> Iterator[list[Path]]:
    """Folders of processes that are gone (their lock is free), locked for the caller while it publishes them."""
    locks: list[FolderLock] = []
    found: list[Path] = []
    try:
        entries = list(wal_dir.iterdir()) if wal_dir.is_dir() else []
        for folder in sorted(p for p in entries if p.is_dir() and p != own and not p.name.startswith(".")):
            lock = FolderLock(folder)
            if lock.acquire():
                locks.append(lock)
                found.append(folder)
        yield found
    finally:
        for lock in locks:
            lock.release()


def retire_folder(folder: Path) -> None:
    """Remove an emptied segments folder (its lock file last)."""
    for leftover in folder.iterdir():
        if leftover.name != LOCK_FILE:
            return  # something still waits in it: keep it for the next try
    (folder / LOCK_FILE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()
