"""Loop benchmark: the demo in its own state folder; seconds from drifted traffic to the new champion
serving, split across the steps, with the training pipeline's per-task times from its log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.environment import PORT_SETTINGS, free_port

TASK_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d+) - INFO - (Executing task|Task) .*?'([a-z-]+)'")


def _seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def task_durations(log_text: str) -> dict[str, float]:
    """Per KFP task: seconds from `Executing task` to `Task ... finished` in a kfp.local log."""
    clean = re.sub(r"\x1b\[[0-9;]*m", "", log_text)
    started: dict[str, float] = {}
    durations: dict[str, float] = {}
    for line in clean.splitlines():
        match = TASK_LINE.match(line)
        if not match:
            continue
        moment, kind, task = _seconds(match.group(1)), match.group(2), match.group(3)
        if kind == "Executing task":
            started[task] = moment
        elif "finished" in line and task in started:
            durations[task] = round(moment - started[task], 2)
    return durations


def run_loop_bench(folder: Path) -> dict[str, Any]:
    state = folder / "loop-state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    env.update({f"DRIFTLOOP_{s.upper()}": str(free_port()) for s in PORT_SETTINGS})
    env["DRIFTLOOP_STATE_DIR"] = str(state)
    driftloop = str(Path(sys.executable).with_name("driftloop"))
    try:
        subprocess.run([driftloop, "demo", "--reset"], env=env, check=True, capture_output=True, timeout=1200)
    finally:
        subprocess.run([driftloop, "local", "down"], env=env, capture_output=True, timeout=120, check=False)
    summary = json.loads((state / "demo" / "summary.json").read_text())
    timeline = summary["timeline"]
    # The retraining's executor output: the newest kfp.local log (retraining.log holds its one line per step).
    executor_logs = sorted((state / "logs").glob("training-*.log"))
    tasks = task_durations(executor_logs[-1].read_text()) if executor_logs else {}
    # Fixed overhead: what a task costs when it computes almost nothing (the gate), times the task count.
    fixed = tasks.get("gate-model", 0.0) * len(tasks)
    pipeline = sum(tasks.values())
    return {
        "loop_seconds": summary["loop_seconds"],
        "split": {
            "drifted_traffic_and_check": round(timeline["drift_check"] - timeline["drift_data"], 1),
            "trigger_to_serving": round(timeline["v2_serving"] - timeline["drift_check"], 1),
            "retraining_run": round(timeline["retrained"] - timeline["drift_check"], 1),
            # The endpoint serves v2 once the run registers it; the run's process still stops its helpers after.
            "run_end_after_serving": round(timeline["retrained"] - timeline["v2_serving"], 1),
        },
        "pipeline_tasks": tasks,
        "pipeline_seconds": round(pipeline, 1),
        "pipeline_fixed_overhead_seconds": round(fixed, 1),
        "fixed_overhead_share": round(fixed / pipeline, 2) if pipeline else None,
        "champion_before": summary["champion_before"],
        "champion_after": summary["champion_after"],
    }
