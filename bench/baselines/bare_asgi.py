"""Baseline (c), the floor: a bare ASGI app calling the model directly. Nothing else happens per request.

`python -m bench.baselines.bare_asgi MODEL PORT [USE_CASE]`: MODEL is an ONNX file (scored by onnxruntime from
arrays, as our predictor does, with USE_CASE's model inputs: fraud by default) or an MLflow scikit-learn model
folder (scored from a DataFrame).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _scorer(model_path: Path, use_case_name: str) -> Callable[[list[dict[str, Any]]], list[float]]:
    if model_path.suffix == ".onnx":
        import numpy as np

        from pipelines.core.use_case import load_use_case
        from pipelines.registry.onnx_model import model_scores, open_session

        use_case = load_use_case(use_case_name)
        spec, model_input = use_case.model.onnx, use_case.model_input

        session = open_session(model_path.read_bytes(), threads=1)

        def onnx(instances: list[dict[str, Any]]) -> list[float]:
            columns = {name: np.array([row[name] for row in instances]) for name in model_input.columns}
            return list(model_scores(session, columns, spec, model_input).tolist())

        return onnx
    import mlflow.sklearn
    import pandas as pd

    model = mlflow.sklearn.load_model(str(model_path))

    def sklearn(instances: list[dict[str, Any]]) -> list[float]:
        return list(model.predict_proba(pd.DataFrame(instances))[:, 1].tolist())

    return sklearn


def main() -> None:
    import uvicorn

    model_path, port = Path(sys.argv[1]), int(sys.argv[2])
    score = _scorer(model_path, sys.argv[3] if len(sys.argv) > 3 else "fraud")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":
            payload = b"ok"
        else:
            payload = json.dumps({"predictions": score(json.loads(body)["instances"])}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
