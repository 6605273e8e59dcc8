"""Feast's classes load without typeguard's per-import recompilation in any process that imports our core."""

import subprocess
import sys

import pytest

from pipelines.core.fast_imports import _unchecked

PROBE = """
import {module}
import feast.feature_view
names = feast.feature_view.FeatureView.__init__.__code__.co_names
print(sorted(name for name in names if name.startswith("check_")))
"""


def test_both_decorator_forms_leave_the_target_unchanged() -> None:
    def target(x: int) -> int:
        return x

    assert _unchecked(target) is target
    assert _unchecked(forward_ref_policy=None)(target) is target


# The CLI imports `driftloop`; a KFP task imports only `pipelines` (the core comes with any of its modules).
@pytest.mark.parametrize("module", ["driftloop", "pipelines.data.schema"])
def test_feast_classes_are_not_instrumented_after_importing_our_code(module: str) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True, check=True
    )
    assert probe.stdout.strip() == "[]", probe.stdout  # instrumented code calls check_argument_types_internal
