"""`driftloop demo`: the closed loop end to end, printed as a timeline."""

from __future__ import annotations

import typer

from pipelines.core.settings import get_settings
from pipelines.core.use_case import load_use_case


def demo(
    reset: bool = typer.Option(False, "--reset", help="Stop the local platform and delete the state folder first."),
    size: int | None = typer.Option(
        None, min=10, help="The generated world's main population. Default: the use case's demo plan's."
    ),
    traffic_rows: int | None = typer.Option(
        None, min=50, help="Events sent in each traffic phase. Default: the use case's demo plan's."
    ),
    target: str = typer.Option(
        "local", help="local (processes here), or cluster (the kind cluster `make up` built: `make demo-cluster`)."
    ),
) -> None:
    """Generate data, bring the platform up, train v1, serve, drift, retrain, serve v2; leave it running."""
    from driftloop.demo.story import DemoConfig, run_demo  # lazy: pulls pandas
    from driftloop.demo.targets import target_for  # lazy: pulls pandas

    # The demo drives its drift checks itself, so its timeline is deterministic; the platform's scheduler
    # still runs, on a long interval, and swaps arrive within a second. A variable the user set wins.
    given = get_settings()
    demo_defaults = {"drift_check_interval_s": 3600.0, "model_poll_interval_s": 1.0}
    settings = given.model_copy(update={k: v for k, v in demo_defaults.items() if k not in given.model_fields_set})
    config = DemoConfig.of(load_use_case(settings.use_case).generator.demo, size, traffic_rows)
    summary = run_demo(settings, config, typer.echo, reset, target_for(target, settings))
    typer.echo(
        f"champion v{summary['champion_before']} -> v{summary['champion_after']}; "
        f"retrain triggered: {summary['retrain_triggered']}; loop {summary['loop_seconds']}s"
    )
    typer.echo(
        "explore: MLflow " + summary["endpoints"]["mlflow"] + ", Evidently UI " + summary["endpoints"]["evidently-ui"]
    )
    if target == "local":
        typer.echo("stop everything with `driftloop local down` (or `make local-down`)")
