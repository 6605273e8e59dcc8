"""Compile the training pipeline to the KFP IR YAML that the cluster submits (committed as a golden file)."""

from __future__ import annotations

from pathlib import Path

# The committed IR: what `driftloop pipeline compile` writes, the chart ships and the KFP runner submits.
COMPILED_PIPELINE = Path(__file__).resolve().parent / "compiled" / "training_pipeline.yaml"


def compile_training_pipeline(out: Path) -> Path:
    from kfp import compiler

    from pipelines.kfp.training_pipeline import training_pipeline  # lazy: pulls kfp and pandas

    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(training_pipeline, str(out))
    return out
