"""The predictor caps OpenMP at one thread per prediction, unless the user chose otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import driftloop.cli  # what `driftloop serve predictor` has imported when it calls one_model_thread
from serving.model_threads import one_model_thread
one_model_thread()
import sklearn.ensemble
from threadpoolctl import threadpool_info
print(max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"))
"""


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("2", "2")])
def test_openmp_threads_in_the_model_server(given: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if given:
        env["OMP_NUM_THREADS"] = given
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == expected
