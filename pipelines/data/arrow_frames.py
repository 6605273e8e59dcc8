"""Many Arrow tables (a store's parts, a segment's records) as one pandas frame, converted once.

Converting each small table to pandas costs about as much as reading it (a few parts a day, twenty log records a
second), so tables of one schema (what one writer writes) are concatenated as Arrow and converted once. Tables
whose schemas differ (a column added by a later writer, a column all-missing in one table) are converted one by
one and concatenated by pandas, which fills and widens them as it always did: the frame is the same either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa


def tables_frame(tables: Sequence[pa.Table]) -> pd.DataFrame:
    """The tables' rows in order as one frame with a fresh index (`tables` must not be empty)."""
    import pyarrow as pa

    schema = tables[0].schema
    if all(table.schema.equals(schema) for table in tables[1:]):
        return pa.concat_tables(tables).to_pandas()
    return pd.concat([table.to_pandas() for table in tables], ignore_index=True)
