"""`python run_ir.py SPEC PARAMS ROOT`: run a submitted pipeline spec (the compiled IR, as KFP
received it) with kfp.local, each executor's command in a subprocess of this environment."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(spec_path: str, parameters_path: str, pipeline_root: str) -> None:
    from kfp import components, local

    pipeline = components.load_component_from_text(Path(spec_path).read_text())
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root, raise_on_error=True)
    pipeline(**json.loads(Path(parameters_path).read_text()))


if __name__ == "__main__":
    main(*sys.argv[1:4])
