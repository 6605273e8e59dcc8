"""The runner for the current mode: kfp.local here, the KFP API in the cluster."""

from __future__ import annotations

from pipelines.core.settings import Settings
from pipelines.core.training_request import PipelineRunner


def runner_for(settings: Settings) -> PipelineRunner:
    if settings.mode == "local":
        from driftloop.pipeline_runs.local_runner import LocalPipelineRunner

        return LocalPipelineRunner(settings)
    from driftloop.pipeline_runs.kfp_runner import KfpApiRunner

    return KfpApiRunner(settings)
