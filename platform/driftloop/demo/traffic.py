"""Replaying transactions against the inference endpoint, as a client application would."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pandas as pd

from pipelines.schema import AMOUNT, CHANNEL, CUSTOMER_ID, EVENT_ID, MERCHANT_ID

logger = logging.getLogger(__name__)


@dataclass
class TrafficResult:
    requests: int = 0
    rows: int = 0
    failures: int = 0
    versions: Counter[str] = field(default_factory=Counter)


def send_transactions(url: str, model: str, events: pd.DataFrame, batch_size: int = 20) -> TrafficResult:
    """POST the events in V1 batches; counts answers per model version and failures."""
    result = TrafficResult()
    records = [
        {
            CUSTOMER_ID: int(row[CUSTOMER_ID]),
            MERCHANT_ID: int(row[MERCHANT_ID]),
            AMOUNT: float(row[AMOUNT]),
            CHANNEL: str(row[CHANNEL]),
            EVENT_ID: str(row[EVENT_ID]),
        }
        for row in events.to_dict("records")
    ]
    with httpx.Client(base_url=url, timeout=30) as client:
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            response = client.post(f"/v1/models/{model}:predict", json={"instances": batch})
            result.requests += 1
            if response.status_code != 200:
                result.failures += 1
                logger.warning("request failed: %s %s", response.status_code, response.text[:200])
                continue
            result.rows += len(batch)
            result.versions[str(response.json()["model_version"])] += 1
    return result


def served_version(url: str, model: str, probe: dict[str, object]) -> str | None:
    """The model version the endpoint answers with right now (None when it cannot answer)."""
    try:
        response = httpx.post(f"{url}/v1/models/{model}:predict", json={"instances": [probe]}, timeout=10)
    except httpx.HTTPError:
        return None
    return str(response.json()["model_version"]) if response.status_code == 200 else None
