"""One drift computation in a fresh process, so its peak memory is its own.

`python -m bench.drift_worker {ours,evidently,ks} ROWS COLUMNS` prints seconds and peak RSS (MiB).
`ours` is the drift job's code path (report + snapshot into a workspace); `evidently` is Evidently's own
`Report.run` with the same presets; `ks` is a scipy two-sample KS test per column.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def frames(rows: int, columns: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    names = [f"f{i:02d}" for i in range(columns)]
    reference = pd.DataFrame(rng.normal(size=(5000, columns)), columns=names)
    shift = np.where(np.arange(columns) % 2 == 0, 0.5, 0.0)  # half the columns drift
    current = pd.DataFrame(rng.normal(size=(rows, columns)) + shift, columns=names)
    return reference, current


def main() -> None:
    implementation, rows, columns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    reference, current = frames(rows, columns)
    names = list(reference.columns)
    # Import cost is not the drift computation's: paid before the clock starts, for every implementation.
    import evidently.presets  # noqa: F401
    import evidently.ui.workspace  # noqa: F401
    import scipy.stats  # noqa: F401

    started = time.perf_counter()
    if implementation == "ours":
        from monitoring.dashboard import DashboardPlan
        from monitoring.drift import MonitoredColumns, run_drift_report
        from monitoring.workspace import save_snapshot

        result = run_drift_report(reference, current, MonitoredColumns(tuple(names), ()))
        with tempfile.TemporaryDirectory() as workspace:
            plan = DashboardPlan(tuple(names), "score", "RocAuc", "realised ROC AUC")
            save_snapshot(Path(workspace), "bench", result.snapshot, "bench", drift_threshold=0.5, plan=plan)
        share = result.drift_share
    elif implementation == "evidently":
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset, DataSummaryPreset

        definition = DataDefinition(numerical_columns=names)
        snapshot = Report([DataDriftPreset(), DataSummaryPreset()]).run(
            current_data=Dataset.from_pandas(current, data_definition=definition),
            reference_data=Dataset.from_pandas(reference, data_definition=definition),
        )
        share = float(snapshot.dict()["metrics"][0]["value"]["share"])
    else:
        from scipy.stats import ks_2samp

        drifted = [ks_2samp(reference[c], current[c]).pvalue < 0.05 for c in names]
        share = sum(drifted) / len(names)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump({"seconds": seconds, "peak_rss_mib": peak_mib, "drift_share": share}, sys.stdout)


if __name__ == "__main__":
    main()
