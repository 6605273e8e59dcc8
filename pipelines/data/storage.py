"""Where the platform's data lives: a local folder, or a prefix of an S3 bucket (the cluster's object store, so
that tasks on any node read the same event store and offline tables), behind one small interface.

Both publish a file whole: locally it is written under a temporary name and renamed into place; on S3 an object
becomes visible only when its upload completes. A reader sees a file old or new, never half of one. A durable
publish (`write_table`: the event store's landings and compacted parts) also fsyncs the file before the rename and
its folder after, so what a writer reported stored survives a power cut as well as a kill. S3 has no
append and no rename, so nothing here renames on S3 and `append_text` rewrites the object (its callers hold the
store's writer lock). Credentials are not settings: the S3 clients read `AWS_ACCESS_KEY_ID` and
`AWS_SECRET_ACCESS_KEY` from the environment (in the cluster, from the object store's Secret).
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.core.layout import Layout, Location
from pipelines.data.crash_points import crash_point

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    from pipelines.core.settings import Settings

S3_SCHEME = "s3://"


@functools.lru_cache(maxsize=8)
def _s3_filesystem(endpoint: str | None) -> pafs.FileSystem:
    """One S3 client per endpoint and process (Ray tasks build their own: clients are not pickled)."""
    import pyarrow.fs as pafs

    if endpoint is None:
        return pafs.S3FileSystem()
    scheme = endpoint.split("://", 1)[0] if "://" in endpoint else "https"
    # pyarrow ignores AWS_ENDPOINT_URL: the endpoint is always passed; path-style addressing follows from it.
    return pafs.S3FileSystem(endpoint_override=endpoint, scheme=scheme)


@dataclass(frozen=True)
class Folder:
    """A folder of data files: an absolute local path, or `s3://bucket/prefix` (with its endpoint). Picklable: a
    task on another node rebuilds its client from the URL."""

    url: str
    endpoint: str | None = None

    @classmethod
    def at(cls, location: str | Path | Folder, endpoint: str | None = None) -> Folder:
        if isinstance(location, Folder):
            return location
        text = str(location)
        if text.startswith(S3_SCHEME):
            return cls(text.rstrip("/"), endpoint)
        return cls(str(Path(text).expanduser().resolve()))

    @property
    def remote(self) -> bool:
        return self.url.startswith(S3_SCHEME)

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def child(self, *names: str) -> Folder:
        return Folder("/".join([self.url, *names]), self.endpoint)

    def __str__(self) -> str:
        return self.url

    # Paths and clients ------------------------------------------------------------------------------------------

    @property
    def local_path(self) -> Path:
        """The folder on this machine's disk (local folders only)."""
        if self.remote:
            raise ValueError(f"{self.url} is on an object store, not on this machine's disk")
        return Path(self.url)

    def _fs_path(self, name: str) -> str:
        """`name` as the file system names it: a local path, or `bucket/key` for the S3 client."""
        full = f"{self.url}/{name}" if name else self.url
        return full[len(S3_SCHEME) :] if self.remote else full

    def _filesystem(self) -> pafs.FileSystem | None:
        """The S3 client, or None for a local folder (pandas and pyarrow then open the path themselves)."""
        return _s3_filesystem(self.endpoint) if self.remote else None

    def uri(self, name: str = "") -> str:
        """A file's full name, for messages and for readers that take URLs (Feast, fsspec)."""
        return f"{self.url}/{name}" if name else self.url

    # Reading ------------------------------------------------------------------------------------------------

    def files(self, pattern: str = "*") -> list[str]:
        """Names (relative, `/`-separated, sorted) of the files matching `pattern`, whose `*` stays inside one
        path segment as in `Path.glob`; hidden files (temporary names) never match."""
        if not self.remote:
            return local_files(self.local_path, pattern.split("/"))
        import pyarrow.fs as pafs

        wanted = pattern.split("/")
        literal: list[str] = []  # the leading folders without wildcards: only they are listed
        for part in wanted[:-1]:
            if any(c in part for c in "*?["):
                break
            literal.append(part)
        selector = pafs.FileSelector(self._fs_path("/".join(literal)), recursive=True, allow_not_found=True)
        base = self._fs_path("") + "/"
        names = []
        for info in self._s3().get_file_info(selector):
            if info.type != pafs.FileType.File:
                continue
            name = info.path[len(base) :]
            parts = name.split("/")
            if len(parts) == len(wanted) and all(fnmatchcase(p, w) for p, w in zip(parts, wanted, strict=True)):
                names.append(name)
        return sorted(names)

    def _s3(self) -> pafs.FileSystem:
        return _s3_filesystem(self.endpoint)

    def exists(self, name: str) -> bool:
        if not self.remote:
            return (self.local_path / name).is_file()
        import pyarrow.fs as pafs

        return bool(self._s3().get_file_info(self._fs_path(name)).type == pafs.FileType.File)

    def read_parquet(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(self._fs_path(name), columns=columns, filesystem=self._filesystem())

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        import pyarrow.parquet as pq

        return pq.read_table(self._fs_path(name), columns=columns, filesystem=self._filesystem())

    def parquet_file(self, name: str) -> pq.ParquetFile:
        import pyarrow.parquet as pq

        return pq.ParquetFile(self._fs_path(name), filesystem=self._filesystem())

    def read_footer(self, name: str) -> pq.FileMetaData:
        """The file's footer alone (row count, key-value metadata): one small read, no column data."""
        import pyarrow.parquet as pq

        return pq.read_metadata(self._fs_path(name), filesystem=self._filesystem())

    def read_schema(self, name: str) -> pa.Schema:
        import pyarrow.parquet as pq

        return pq.read_schema(self._fs_path(name), filesystem=self._filesystem())

    def read_text(self, name: str) -> str | None:
        """The file's text, or None when there is no such file."""
        if not self.remote:
            path = self.local_path / name
            return path.read_text() if path.is_file() else None
        try:
            with self._s3().open_input_stream(self._fs_path(name)) as stream:
                return bytes(stream.read()).decode()
        except FileNotFoundError:
            return None

    # Writing ------------------------------------------------------------------------------------------------

    def write_parquet(self, frame: pd.DataFrame, name: str, durable: bool = False) -> None:
        """Publish `frame` as `name` whole (replacing it): readers see the old file or the new one; `durable`: on
        the disk before this returns (an object store's upload is, once complete)."""
        if self.remote:
            frame.to_parquet(self._fs_path(name), index=False, filesystem=self._s3())
        else:
            self._publish_locally(name, lambda temporary: frame.to_parquet(temporary, index=False), durable)

    def write_table(self, table: pa.Table, name: str) -> None:
        """Publish an Arrow table (its schema's metadata included) as `name` whole and durably (fsynced)."""
        import pyarrow.parquet as pq

        if self.remote:
            pq.write_table(table, self._fs_path(name), filesystem=self._s3())
        else:
            self._publish_locally(name, lambda temporary: pq.write_table(table, temporary), durable=True)

    def write_text(self, name: str, text: str) -> None:
        """Publish `text` as `name` whole (replacing it)."""
        if self.remote:
            with self._s3().open_output_stream(self._fs_path(name)) as stream:
                stream.write(text.encode())
        else:
            self._publish_locally(name, lambda temporary: temporary.write_text(text))

    def _publish_locally(self, name: str, write: Callable[[Path], object], durable: bool = False) -> None:
        """`write` to a hidden temporary name beside `name`, then rename it into place (one atomic step).
        `durable`: the file's bytes reach the disk before the rename, and the rename before returning."""
        target = self.local_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        write(temporary)
        if durable:
            fsync_path(temporary)
            crash_point("publish.before_rename")
        os.replace(temporary, target)
        if durable:
            fsync_path(target.parent)

    def put_file(self, source: Path, name: str) -> None:
        """Copy a local file in as `name`."""
        if not self.remote:
            import shutil

            target = self.local_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return
        import pyarrow.fs as pafs

        pafs.copy_files(str(source), self._fs_path(name), source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=self._s3())  # fmt: skip

    def append_text(self, name: str, text: str) -> None:
        """Add `text` at the end of `name` (callers hold the writer lock: on S3 this rewrites the object)."""
        if self.remote:
            self.write_text(name, (self.read_text(name) or "") + text)
            return
        target = self.local_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as handle:
            handle.write(text)

    def move(self, name: str, target: Folder, target_name: str) -> None:
        """Move `name` to `target_name` in `target` (a rename on this machine; a copy then a delete on S3)."""
        if not self.remote and not target.remote:
            destination = target.local_path / target_name
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.local_path / name, destination)
            return
        if self.remote and target.remote and self.endpoint == target.endpoint:
            self._s3().copy_file(self._fs_path(name), target._fs_path(target_name))
            self.delete(name)
            return
        raise ValueError(f"cannot move {self.uri(name)} to {target.uri(target_name)}: not on one store")

    def delete(self, name: str) -> None:
        """Remove `name` if it is there."""
        if not self.remote:
            (self.local_path / name).unlink(missing_ok=True)
            return
        with contextlib.suppress(FileNotFoundError):
            self._s3().delete_file(self._fs_path(name))

    def delete_all(self) -> None:
        """Remove the folder and everything in it."""
        if not self.remote:
            import shutil

            shutil.rmtree(self.local_path, ignore_errors=True)
            return
        self._s3().delete_dir_contents(self._fs_path(""), missing_dir_ok=True)


def local_files(
    root: Path, wanted: list[str], entries: Callable[[str], list[tuple[str, bool]]] | None = None
) -> list[str]:
    """The files under `root` matching the pattern's segments, one directory listing per folder visited (no
    `stat` per file, which `Path.glob` pays: listing thousands of parts stays a millisecond or two).
    `entries` lists a directory as (name, is a directory) pairs, hidden names left out (`directory_entries`)."""
    entries = entries or directory_entries
    matchers = [re.compile(fnmatch.translate(segment)).match for segment in wanted]
    found: list[str] = []

    def visit(folder: str, prefix: str, depth: int) -> None:
        last = depth == len(wanted) - 1
        match = matchers[depth]
        for name, is_dir in entries(folder):
            if match(name) is None or is_dir == last:
                continue
            if last:
                found.append(prefix + name)
            else:
                visit(f"{folder}/{name}", f"{prefix}{name}/", depth + 1)

    visit(str(root), "", 0)
    return sorted(found)


def directory_entries(folder: str) -> list[tuple[str, bool]]:
    """A directory's entries as (name, is a directory), hidden names (temporaries) left out; none when absent."""
    try:
        with os.scandir(folder) as listing:
            return [(entry.name, entry.is_dir()) for entry in listing if not entry.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's entries') bytes to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def unique_part_name(suffix: str = ".parquet") -> str:
    """A part name no other writer takes, on any node (a pid alone repeats across containers), in time order."""
    return f"part-{time.time_ns()}-{uuid.uuid4().hex[:12]}{suffix}"


# The platform's shared folders (the layout's): local folders, or prefixes under `DRIFTLOOP_OBJECT_STORE_URL`.


def folder_at(location: Location) -> Folder:
    return Folder.at(location.url, location.endpoint)


def event_store_folder(settings: Settings) -> Folder:
    return folder_at(Layout.from_settings(settings).event_store)


def prediction_log_folder(settings: Settings) -> Folder:
    return folder_at(Layout.from_settings(settings).prediction_log)


def feature_data_folder(settings: Settings) -> Folder:
    """The offline tables (`offline/<view>`) and the refresh state; the Feast repo's other files stay local."""
    return folder_at(Layout.from_settings(settings).feature_data)


def scratch_folder(settings: Settings) -> Folder:
    """Where a partitioned job leaves what its tasks on other nodes read and write."""
    return folder_at(Layout.from_settings(settings).scratch)
