"""Baseline (b): the plain KServe predictor users know, serving the same model, features in the request.

A `kserve.Model` that loads the sklearn model and answers V1 instances: no validation, no logging, no
metrics of ours, no registry watching. `python -m bench.baselines.plain_kserve MODEL_DIR PORT [NAME]` (NAME:
the model's name in its routes, fraud-detector by default).
"""

from __future__ import annotations

import sys
from typing import Any

import pandas as pd


def main() -> None:
    model_dir, port = sys.argv[1], int(sys.argv[2])
    name = sys.argv[3] if len(sys.argv) > 3 else "fraud-detector"
    sys.argv = sys.argv[:1]
    import kserve
    import mlflow.sklearn

    class PlainPredictor(kserve.Model):
        def load(self) -> bool:
            self.model = mlflow.sklearn.load_model(model_dir)
            self.ready = True
            return True

        def predict(self, payload: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
            frame = pd.DataFrame(payload["instances"])
            return {"predictions": self.model.predict_proba(frame)[:, 1].tolist()}

    model = PlainPredictor(name)
    model.load()
    kserve.ModelServer(http_port=port, enable_grpc=False, workers=1).start([model])


if __name__ == "__main__":
    main()
