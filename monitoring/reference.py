"""The drift reference: the training sample stored with a model version, cached per version."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.registry.names import VersionTag


def load_reference(client: Any, model_name: str, version: str, cache_dir: Path) -> pd.DataFrame:
    cached = cache_dir / f"{model_name}-v{version}.parquet"
    if not cached.exists():
        import mlflow

        uri = client.get_model_version(model_name, version).tags[VersionTag.REFERENCE_SAMPLE]
        downloaded = mlflow.artifacts.download_artifacts(uri, tracking_uri=client.tracking_uri)
        cache_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(downloaded, cached)
    return pd.read_parquet(cached)


@contextmanager
def reference_cache(folder: Path, dry_run: bool) -> Iterator[Path]:
    """Where a check caches the champion's samples: `folder`. A dry run changes no file of the monitor's: it reads
    the samples already cached there and downloads a missing one to a scratch folder removed after the check."""
    if not dry_run:
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="driftloop-dry-run-") as scratch:
        if folder.is_dir():
            for cached in folder.iterdir():
                (Path(scratch) / cached.name).symlink_to(cached.resolve())
        yield Path(scratch)
