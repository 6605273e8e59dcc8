"""A label history's meaning: which label holds now, which held at a past moment, and when each value was known.

Pure functions over label records (every record ever landed, a relabelled event having several), shared by the
event store's readers and the refresh; kept apart from the store so they read in one sitting.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipelines.data.schema import EVENT_ID, LABEL_TIMESTAMP, UNTIL

INGESTED_AT = "ingested_at"  # when a record landed: the tie-break between records of the same time
# When the platform may use a label (point-in-time reads, chargeback features, training windows): the time it
# arrived when a client sent it over HTTP (a client's label_timestamp is only its business time: a backdated
# one must not reach into the past), its label_timestamp when a trusted batch landing (`driftloop data ingest`,
# an operator's lake history) brought it. Parts written before this column read as their label_timestamp.
KNOWN_AT = "known_at"


def usable_times(records: pd.DataFrame) -> pd.DataFrame:
    """Label records with `label_timestamp` replaced by the time the platform may use each (KNOWN_AT; a part
    without the column: its label_timestamp)."""
    if KNOWN_AT not in records:
        return records
    known = records[KNOWN_AT].fillna(records[LABEL_TIMESTAMP]) if len(records) else records[LABEL_TIMESTAMP]
    return records.assign(**{LABEL_TIMESTAMP: known.astype(records[LABEL_TIMESTAMP].dtype)})


def label_spans(records: pd.DataFrame, label: str) -> pd.DataFrame:
    """Each stretch of time an event held one value of its `label` column, from label records with usable times:
    its `label_timestamp` (known from) and UNTIL (when a later label said otherwise; NaT while it still holds).
    A record that repeats the value before it starts no new span.

    Why spans and not the latest value: a feature for a past hour must use what was known then. A verdict
    withdrawn today stays known for the hours before today. A view that counts one value only (fraud's
    chargebacks: the 1s) picks its spans out itself."""
    ordered = records.sort_values([EVENT_ID, LABEL_TIMESTAMP, INGESTED_AT], kind="stable")
    changed = ordered[label].ne(ordered.groupby(EVENT_ID)[label].shift())  # a value's first record
    changes = ordered.loc[changed, [EVENT_ID, label, LABEL_TIMESTAMP]]
    until = changes.groupby(EVENT_ID)[LABEL_TIMESTAMP].shift(-1)
    spans = changes.assign(**{UNTIL: until})
    return spans[[EVENT_ID, label, LABEL_TIMESTAMP, UNTIL]].reset_index(drop=True)


def latest_labels(records: pd.DataFrame, label: str, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Each event's current label among its records (usable_times first): the latest by label time, landing
    order breaking ties; the `label` column is the label's value. `extra` keeps more of the records' columns."""
    latest = records.sort_values([LABEL_TIMESTAMP, INGESTED_AT], kind="stable").drop_duplicates(EVENT_ID, keep="last")
    columns = [EVENT_ID, label, LABEL_TIMESTAMP, *extra]
    return latest[columns].sort_values(EVENT_ID, kind="stable").reset_index(drop=True)
