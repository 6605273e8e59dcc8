"""Landing records: what each landing added, kept inside the parts it wrote.

Why inside: a landing used to write its rows, then append a line to `landings.jsonl`. A crash between the two
left rows no record named, so a retry found them already present and the feature refresh never recomputed the
hours they touched; a torn line broke every later reader. Now each part a landing publishes carries its own
record in its parquet footer (`driftloop.landing`): the rows and the record appear in one atomic step, or
neither does. `landings.jsonl` of stores written before this is still read (torn lines skipped), never written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import pandas as pd

LANDING_KEY = b"driftloop.landing"
LEGACY_LOG = "landings.jsonl"
COMPACTION = "compaction"  # the record of a compacted part: it adds nothing the refresh has not seen


@dataclass(frozen=True)
class Landing:
    """One landing: one record in each part it wrote.

    Attributes:
        kind: `events`, `labels`, or `compaction` (a compacted part: its inputs' landings were already seen).
        source: the landed file, or `POST /v1/labels by credential <scope>`.
        landed_at: when (ISO-8601, UTC).
        rows: rows it added (in this part; `landings()` sums a landing's parts).
        oldest_event: the oldest event timestamp it adds or relabels: the refresh recomputes from its hour.
        oldest_label: the oldest time a label it adds counts from (labels only).
        landing_id: shared by the parts of one landing (an events landing writes one part per day).
    """

    kind: str
    source: str
    landed_at: str
    rows: int
    oldest_event: str | None
    oldest_label: str | None
    landing_id: str = ""

    @property
    def touched(self) -> list[str]:
        """The oldest times this record asks the refresh to recompute from (none for a compaction)."""
        return [moment for moment in (self.oldest_event, self.oldest_label) if moment]


def encode(landing: Landing) -> dict[bytes, bytes]:
    """The record as parquet key-value metadata."""
    return {LANDING_KEY: json.dumps(asdict(landing)).encode()}


def decode(metadata: dict[bytes, bytes] | None) -> Landing | None:
    """The record a part carries; None for a part written before records lived in parts."""
    raw = (metadata or {}).get(LANDING_KEY)
    return None if raw is None else from_dict(json.loads(raw))


def from_dict(record: dict[str, Any]) -> Landing:
    """A record from its JSON (fields a newer writer added are ignored, missing ones take their defaults)."""
    known = {field.name for field in fields(Landing)}
    return Landing(**{key: value for key, value in record.items() if key in known})


def merged(parts: list[Landing]) -> Landing:
    """One landing's record from the records of its parts: rows summed, the oldest times kept."""
    first = parts[0]
    oldest = [p.oldest_event for p in parts if p.oldest_event]
    labels = [p.oldest_label for p in parts if p.oldest_label]
    return replace(
        first, rows=sum(p.rows for p in parts), oldest_event=min(oldest, key=pd.Timestamp) if oldest else None,
        oldest_label=min(labels, key=pd.Timestamp) if labels else None,
    )  # fmt: skip
