"""The loop bench reads each task's duration from kfp.local's executor output as it is written today."""

from bench.loop import task_durations

# Lines as kfp.local writes them (colours included), from a demo's retraining log.
LOG = """\
04:41:27.909 - INFO - Running pipeline: \x1b[95m'driftloop-training'\x1b[0m
04:41:27.915 - INFO - Executing task \x1b[96m'validate-data'\x1b[0m
    [KFP Executor 2026-12-06 04:41:29,663 INFO]: Wrote executor output file to /tmp/x/executor_output.json.
04:41:29.915 - INFO - Task \x1b[96m'validate-data'\x1b[0m finished with status \x1b[92mSUCCESS\x1b[0m
04:41:29.918 - INFO - Task \x1b[96m'validate-data'\x1b[0m outputs:
04:41:29.920 - INFO - Executing task \x1b[96m'gate-model'\x1b[0m
04:41:30.720 - INFO - Task \x1b[96m'gate-model'\x1b[0m finished with status \x1b[92mSUCCESS\x1b[0m
04:41:30.730 - INFO - Executing task \x1b[96m'register-model'\x1b[0m
"""


def test_each_finished_task_has_its_seconds() -> None:
    assert task_durations(LOG) == {"validate-data": 2.0, "gate-model": 0.8}
