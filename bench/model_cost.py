"""Model cost: the registered scikit-learn pipeline against its ONNX export in onnxruntime, for one row and for
1,000 rows, timed in this process with nothing else around the call. ONNX scores as the predictor does (one
thread for a few rows, `BATCH_THREADS` for a batch: `pipelines.registry.onnx_model.OnnxSession`), and the
batch once more on one thread, the cost when no second core is free."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.environment import BenchPlatform


def _median_us(call: Callable[[], object], budget_s: float) -> float:
    for _ in range(20):
        call()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while time.perf_counter() < deadline or len(samples) < 20:
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1e6)
    return statistics.median(samples)


def run_model_cost_bench(platform: BenchPlatform, budget_s: float) -> dict[str, Any]:
    import mlflow.sklearn

    from pipelines.registry.onnx_model import model_scores, open_session
    from use_cases.fraud.streamed import USE_CASE as FRAUD  # the champion bench.environment trains

    spec, model_input = FRAUD.model.onnx, FRAUD.model_input
    columns = list(model_input.columns)
    model = mlflow.sklearn.load_model(str(platform.model_dir))
    onnx_bytes = platform.onnx_path.read_bytes()
    session = open_session(onnx_bytes, threads=1)
    one_thread = open_session(onnx_bytes, threads=1, batch_threads=1)
    requests = platform.requests[columns]
    rows = requests.sample(1000, replace=True, random_state=0).reset_index(drop=True)
    results: dict[str, Any] = {}
    for size, frame in (("1_row", rows.head(1)), ("1000_rows", rows)):
        arrays = {name: frame[name].to_numpy() for name in columns}
        sklearn_us = _median_us(lambda f=frame: model.predict_proba(f), budget_s)
        onnx_us = _median_us(lambda a=arrays: model_scores(session, a, spec, model_input), budget_s)
        onnx_from_frame_us = _median_us(
            lambda f=frame: model_scores(session, {name: f[name].to_numpy() for name in columns}, spec, model_input),
            budget_s,
        )
        onnx_one_thread_us = _median_us(lambda a=arrays: model_scores(one_thread, a, spec, model_input), budget_s)
        gap = float(np.abs(model.predict_proba(frame)[:, 1] - model_scores(session, arrays, spec, model_input)).max())
        results[size] = {
            "sklearn_us": sklearn_us,
            "onnx_us": onnx_us,
            "onnx_from_frame_us": onnx_from_frame_us,
            "onnx_one_thread_us": onnx_one_thread_us,
            "speedup": sklearn_us / onnx_us,
            "max_abs_diff": gap,
        }
    return results
