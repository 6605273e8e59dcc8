"""The runner for the current mode: kfp.local here, the KFP API in the cluster."""

from __future__ import annotations

from driftloop.pipeline_runs.kfp_runner import KfpApiRunner
from driftloop.pipeline_runs.local_runner import LocalPipelineRunner
from pipelines.core.settings import Settings
from pipelines.core.training_request import PipelineRunner


def runner_for(settings: Settings) -> PipelineRunner:
    if settings.mode == "local":
        return LocalPipelineRunner(settings)
    return KfpApiRunner(settings)
