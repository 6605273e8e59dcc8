"""A generated world as the files a lake export would hold: one events table and the labels arrived so far.

What `driftloop data generate` writes and `data ingest` reads by default, whatever the use case: the world comes
from the use case's generator (`UseCase.generator`), the files and their manifest from here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.errors import DriftloopError
from pipelines.core.use_case import EVENT_TIMESTAMP, LABEL_TIMESTAMP, DataGenerator, Feeds, GeneratorConfig
from pipelines.data.schema import EVENTS_FILE, LABELS_FILE

logger = logging.getLogger(__name__)


def arrived(feeds: Feeds, end: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both feeds' events sorted by time, and the labels that have arrived by `end` (a label is late)."""
    events = pd.concat([feeds.base.events, feeds.drifted.events], ignore_index=True)
    labels = pd.concat([feeds.base.labels, feeds.drifted.labels], ignore_index=True)
    order = np.argsort(events[EVENT_TIMESTAMP].to_numpy(), kind="stable")
    events, labels = events.iloc[order].reset_index(drop=True), labels.iloc[order]
    labels = labels[labels[LABEL_TIMESTAMP] < pd.Timestamp(end)].reset_index(drop=True)
    logger.info("generated %d events and %d arrived labels", len(events), len(labels))
    return events, labels


def write_raw_data(
    events: pd.DataFrame, labels: pd.DataFrame, out_dir: Path, config: GeneratorConfig
) -> dict[str, Path]:
    """Write events, labels and a manifest of the config that made them; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"events": out_dir / EVENTS_FILE, "labels": out_dir / LABELS_FILE, "manifest": out_dir / "manifest.json"}
    events.to_parquet(paths["events"], index=False)
    labels.to_parquet(paths["labels"], index=False)
    manifest = {
        **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(config).items()},
        "events": len(events),
        "labels": len(labels),
    }
    paths["manifest"].write_text(json.dumps(manifest, indent=2) + "\n")
    return paths


def _boolean(text: str) -> bool:
    """`true`/`false` (or 1/0, yes/no): `bool("false")` would be True."""
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if text.lower() not in words:
        raise ValueError(text)
    return words[text.lower()]


KNOB_TYPES: dict[str, Any] = {"int": int, "float": float, "str": str, "bool": _boolean}


def generator_config(generator: DataGenerator[Any], knobs: Mapping[str, str], **common: Any) -> GeneratorConfig:
    """The use case's generator config from the common knobs and its own (`name=value` strings, typed by the
    config's fields): an unknown or malformed knob is refused by name."""
    fields = {field.name: field for field in dataclasses.fields(generator.config)}
    own = {name for name in fields if name not in {field.name for field in dataclasses.fields(GeneratorConfig)}}
    values: dict[str, Any] = {name: value for name, value in common.items() if value is not None}
    for name, text in knobs.items():
        if name not in own:
            known = ", ".join(sorted(own)) or "none"
            raise DriftloopError(f"unknown generator knob {name!r} (this use case's knobs: {known})")
        convert = KNOB_TYPES.get(str(fields[name].type), str)
        try:
            values[name] = convert(text)
        except ValueError:
            raise DriftloopError(f"generator knob {name}={text!r} is not of type {fields[name].type}") from None
    try:
        return generator.config(**values)
    except ValueError as error:
        raise DriftloopError(str(error)) from error
