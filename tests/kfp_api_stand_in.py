"""A STAND-IN of the KFP v2beta1 REST API (no KFP API server can run here): only the endpoints `kfp.Client`
2.17 calls to submit and poll a run, and a finished run's task details (`finish`). It records what it received;
given `execute`, it also hands each submitted run to it (the parity harness runs the submitted IR through
kfp.local) and takes the state it returns."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request


class StandInKfpApi:
    def __init__(self, execute: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.execute = execute
        self.requests: list[tuple[str, str, Any]] = []
        self.runs: dict[str, dict[str, Any]] = {}
        self.experiments: dict[str, dict[str, Any]] = {}
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            body = await request.body()
            self.requests.append((request.method, request.url.path, body))
            return await call_next(request)

        @app.get("/apis/v2beta1/healthz")
        def healthz() -> dict[str, Any]:
            return {"multi_user": False}

        @app.get("/apis/v2beta1/experiments")
        def list_experiments() -> dict[str, Any]:
            return {"experiments": list(self.experiments.values()), "total_size": len(self.experiments)}

        @app.post("/apis/v2beta1/experiments")
        async def create_experiment(request: Request) -> dict[str, Any]:
            body = await request.json()
            experiment = {"experiment_id": f"exp-{len(self.experiments) + 1}", "display_name": body["display_name"]}
            self.experiments[experiment["experiment_id"]] = experiment
            return experiment

        @app.get("/apis/v2beta1/experiments/{experiment_id}")
        def get_experiment(experiment_id: str) -> dict[str, Any]:
            return self.experiments[experiment_id]

        @app.post("/apis/v2beta1/runs")
        async def create_run(request: Request) -> dict[str, Any]:
            body = await request.json()
            run = {**body, "run_id": f"run-{len(self.runs) + 1}", "state": "RUNNING"}
            self.runs[run["run_id"]] = run
            if self.execute is not None:
                threading.Thread(target=self._execute, args=(run,), daemon=True).start()
            return run

        @app.get("/apis/v2beta1/runs/{run_id}")
        def get_run(run_id: str) -> dict[str, Any]:
            return self.runs[run_id]

        self.app = app

    def finish(self, run_id: str, state: str, tasks: dict[str, str], start: str, end: str) -> None:
        """End a run as KFP reports it: its state, `finished_at`, and `run_details.task_details`, one per task with
        its state and times (KFP's own tasks too: the root DAG and a driver, which a reader must skip)."""
        run = self.runs[run_id]
        run["state"], run["finished_at"] = state, end
        details = [
            {
                "task_id": f"t-{i}",
                "display_name": name,
                "state": task_state,
                "create_time": start,
                "start_time": start,
                "end_time": end,
            }
            for i, (name, task_state) in enumerate({"root": state, **tasks, "root-driver": "SUCCEEDED"}.items())
        ]
        run["run_details"] = {"task_details": details}

    def _execute(self, run: dict[str, Any]) -> None:
        assert self.execute is not None
        try:
            run["state"] = self.execute(run)
        except Exception as failure:  # the run fails; the submitter sees FAILED, the harness the reason
            run["state"] = "FAILED"
            run["error"] = {"message": str(failure)}


@contextmanager
def serving(stand_in: StandInKfpApi, host: str, port: int) -> Iterator[str]:
    """The stand-in on `host:port` in a thread of this process; yields its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(stand_in.app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the KFP API stand-in did not start on {host}:{port} (see uvicorn's error above)")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
