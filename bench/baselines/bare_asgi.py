"""Baseline (c), the floor: a bare ASGI app calling the model directly. Nothing else happens per request.

`python -m bench.baselines.bare_asgi MODEL_DIR PORT`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pandas as pd


def main() -> None:
    import mlflow.sklearn
    import uvicorn

    model_dir, port = sys.argv[1], int(sys.argv[2])
    model = mlflow.sklearn.load_model(model_dir)

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
            frame = pd.DataFrame(json.loads(body)["instances"])
            payload = json.dumps({"predictions": model.predict_proba(frame)[:, 1].tolist()}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
