"""The demo's only way into the platform: the interfaces any user has (commands, the endpoint, labels).

Landings, the feature refresh and drift checks are `driftloop` commands (what a lake job, the CronJobs and
an operator run); transactions and labels go over HTTP to the inference endpoint. Nothing here writes into
the platform's state folder: the demo is a client of the platform, so the same story can run against a
cluster by pointing these at it.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from pipelines.core.errors import DriftloopError
from pipelines.core.use_case import EVENT_ID, UseCase

logger = logging.getLogger(__name__)


@dataclass
class TrafficResult:
    """What the demo's traffic got back: counts, versions seen and the event ids labels refer to."""

    requests: int = 0
    rows: int = 0
    failures: int = 0
    versions: dict[str, int] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # the answers, in the events' order


class PlatformClient:
    """Talks to one running platform: its `driftloop` command (with the platform's environment) and its
    inference endpoint."""

    def __init__(
        self, command: list[str], env: dict[str, str], endpoint: str, model: str, tokens: dict[str, str],
        use_case: UseCase,
    ) -> None:  # fmt: skip
        self.command = command
        self.use_case = use_case  # what a request carries and what a label is
        self.env = env
        self.endpoint = endpoint.rstrip("/")
        self.model = model
        self.tokens = tokens  # scope -> bearer token (`driftloop auth token`)

    def auth(self, scope: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[scope]}"}

    def invocation(self, args: tuple[str, ...]) -> tuple[list[str], str | None]:
        """The argv that runs `driftloop <args>` on the platform, and what its stdin gets (None: nothing)."""
        return [*self.command, *args], None

    def run(self, *args: str, allow_failure: bool = False) -> subprocess.CompletedProcess[str]:
        argv, stdin = self.invocation(args)
        result = subprocess.run(argv, env=self.env, input=stdin, capture_output=True, text=True, check=False)
        if result.returncode != 0 and not allow_failure:
            detail = (result.stderr.strip().splitlines() or [""])[-1]
            raise DriftloopError(f"demo: `driftloop {' '.join(args)}` failed: {detail}")
        return result

    def run_in_view(self, *args: str) -> None:
        """A command whose progress lines (stderr) the person running the demo should see as they come."""
        argv, stdin = self.invocation(args)
        result = subprocess.run(argv, env=self.env, input=stdin, stdout=subprocess.PIPE, text=True, check=False)
        if result.returncode != 0:
            raise DriftloopError(f"demo: `driftloop {' '.join(args)}` failed (its message is above)")

    def land(self, kind: str, path: Path) -> str:
        """A batch landing (`driftloop data ingest`); returns its one-line report."""
        return self.run("data", "ingest", kind, str(path)).stdout.strip().splitlines()[-1]

    def refresh_features(self) -> str:
        return self.run("features", "refresh").stdout.strip()

    def check_drift(self, since: datetime) -> dict[str, Any]:
        """One drift check over the answers since `since` (`driftloop monitor run --json`)."""
        result = self.run("monitor", "run", "--since", since.strftime("%Y-%m-%dT%H:%M:%S.%f"), "--json")
        outcome: dict[str, Any] = json.loads(result.stdout)
        return outcome

    def send(self, events: pd.DataFrame, batch_size: int = 20) -> TrafficResult:
        """POST the events (with their own ids, as the source system sends them) in V1 batches."""
        result = TrafficResult()
        kinds = {field.name: {"integer": int, "number": float, "category": str}[field.kind]
                 for field in self.use_case.request_fields}  # fmt: skip
        records = [
            {**{name: kind(row[name]) for name, kind in kinds.items()}, EVENT_ID: str(row[EVENT_ID])}
            for row in events.to_dict("records")
        ]
        with httpx.Client(base_url=self.endpoint, timeout=30, headers=self.auth("score")) as client:
            for start in range(0, len(records), batch_size):
                batch = records[start : start + batch_size]
                response = client.post(f"/v1/models/{self.model}:predict", json={"instances": batch})
                result.requests += 1
                if response.status_code != 200:
                    result.failures += 1
                    logger.warning("request failed: %s %s", response.status_code, response.text[:200])
                    continue
                body = response.json()
                result.rows += len(batch)
                result.event_ids.extend(body["event_ids"])
                result.scores.extend(float(score) for score in body["predictions"])
                version = str(body["model_version"])
                result.versions[version] = result.versions.get(version, 0) + 1
        return result

    def stream_caught_up(self, timeout_s: float = 30.0) -> float:
        """Wait until the stream worker has folded every answer so far; returns the seconds waited."""
        started = time.monotonic()
        time.sleep(0.2)  # the answers just sent are committed and published by then
        while True:
            status = json.loads(self.run("features", "status").stdout)
            if not status.get("streams") or status["stream_backlog"] == 0:
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise DriftloopError(f"demo: the stream worker is {status['stream_backlog']} records behind")
            time.sleep(0.2)

    def post_labels(self, labels: pd.DataFrame, batch_size: int = 500) -> int:
        """Send labels back (`POST /v1/labels`), label time = now; returns how many landed."""
        landed = 0
        label = self.use_case.label
        value = int if label.kind == "binary" else float
        items = [
            {EVENT_ID: str(e), label.name: value(v)} for e, v in zip(labels[EVENT_ID], labels[label.name], strict=True)
        ]
        with httpx.Client(base_url=self.endpoint, timeout=60, headers=self.auth("label")) as client:
            for start in range(0, len(items), batch_size):
                response = client.post("/v1/labels", json={"labels": items[start : start + batch_size]})
                if response.status_code != 200:
                    raise DriftloopError(f"demo: POST /v1/labels answered {response.status_code}: {response.text}")
                landed += int(response.json()["landed"])
        return landed

    def served_version(self, probe: dict[str, object]) -> str | None:
        """The model version the endpoint answers with right now (None when it cannot answer)."""
        try:
            response = httpx.post(
                f"{self.endpoint}/v1/models/{self.model}:predict", json={"instances": [probe]}, timeout=10,
                headers=self.auth("score"),
            )  # fmt: skip
        except httpx.HTTPError:
            return None
        return str(response.json()["model_version"]) if response.status_code == 200 else None
