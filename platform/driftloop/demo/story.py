"""The demo story, step by step, with a timeline and a summary a test (or a person) can check.

The demo is a client of the platform (see `client.py`): it generates the use case's world (its demo plan says
how big, when the drift starts and what the drifted feed is called: fraud's wallet partner, delivery's rain),
lands the history as a lake would, lets the platform train v1, sends live traffic to the endpoint and labels
back through the feedback endpoint, lands the drifted feed's backlog, sends drifted traffic, and watches the
platform's own drift check trigger a retraining run on the event store's rolling window that promotes v2,
which the endpoint then serves.

Time is compressed in one way only: live traffic is the next hours of the generated world, sent within
seconds (the servers stamp it with the time they received it). A use case with streamed views sends at most
one event per card (its demo plan's `once_per_phase`) in a phase: minute windows would read a card's hours of
transactions, arriving seconds apart, as a burst. The normal traffic's labels are sent right after it, and
then the use case's live burst (`DemoPlan.burst`), if it has one, in real time while v1 serves. The drifted
traffic's labels come back in the order the world delivers them (the fastest first: a chargeback takes days),
a share at a time with a drift check after each, so the timeline shows what the platform knew, and decided,
with a tenth of them in, a fifth, and so on; the rest follow once it acted.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftloop.demo.client import PlatformClient
from driftloop.demo.targets import DemoTarget
from driftloop.local.runtime import LocalPlatform
from monitoring.workspace import project_name, snapshot_count
from pipelines.core.errors import DriftloopError
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.core.use_case import DemoPlan, UseCase, load_use_case
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP
from pipelines.registry.models import current_champion
from pipelines.registry.names import SearchTag, VersionTag, holdout_tag
from pipelines.registry.tracking import client_as, gate_decisions
from pipelines.registry.users import MlflowUser
from pipelines.training.gate import PROMOTE

logger = logging.getLogger(__name__)

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoConfig:
    """The demo's world and its pacing: sizes, when the drift starts, how much traffic (the use case's demo plan,
    which a person may override)."""

    size: int
    drift_start_day: int  # the drifted feed starts this many days into the world
    traffic_rows: int  # events sent in each traffic phase
    live_hours: int  # each traffic phase sends this many hours of the world's future
    drifted_feed: str  # what the drifted feed is called (timeline, lake files)
    once_per_phase: tuple[str, ...] = ()  # entity keys sent at most once per phase (`DemoPlan.once_per_phase`)
    days: int = 30
    timeout_s: float = 600.0

    @classmethod
    def of(cls, plan: DemoPlan, size: int | None = None, traffic_rows: int | None = None) -> DemoConfig:
        return cls(
            size=size or plan.size,
            drift_start_day=plan.drift_start_day,
            traffic_rows=traffic_rows or plan.traffic_rows,
            live_hours=plan.live_hours,
            drifted_feed=plan.drifted_feed,
            once_per_phase=plan.once_per_phase,
        )


class Timeline:
    """Seconds since the demo started at each step, printed as it goes and kept for the summary."""

    def __init__(self, say: Say) -> None:
        self.started = time.monotonic()
        self.say = say
        self.marks: dict[str, float] = {}

    def mark(self, name: str, message: str, at: float | None = None) -> None:
        """Mark a step now, or at the monotonic time `at` it was observed."""
        self.marks[name] = round((at if at is not None else time.monotonic()) - self.started, 1)
        self.say(f"[{self.marks[name]:6.1f}s] {message}")


def _wait(what: str, condition: Callable[[], Any], timeout_s: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise DriftloopError(f"demo: timed out after {timeout_s:.0f}s waiting for {what}")


def _reset_state(settings: Settings, say: Say) -> None:
    LocalPlatform(settings).down(say)
    if settings.state_dir.exists():
        shutil.rmtree(settings.state_dir)


@dataclass(frozen=True)
class World:
    """The generated world, split the way it reaches the platform."""

    history_events: pd.DataFrame  # the base feed before now
    history_labels: pd.DataFrame  # its labels that arrived before now
    normal_live: pd.DataFrame  # the base feed's next hours, sent live
    drifted_events: pd.DataFrame  # the drifted feed before now (lands late, as one batch)
    drifted_labels: pd.DataFrame
    drifted_live: pd.DataFrame  # both feeds' hours after that, sent live
    live_labels: pd.DataFrame  # every label, for the live transactions sent


def make_world(settings: Settings, config: DemoConfig, now: datetime) -> World:
    generator = load_use_case(settings.use_case).generator
    end = now + timedelta(hours=2 * config.live_hours)
    feeds = generator.generate_feeds(
        generator.config(
            end=end,
            seed=settings.seed,
            days=config.days,
            size=config.size,
            drift_start_day=config.drift_start_day,
            **generator.demo.knobs,
        )
    )
    moment, later = pd.Timestamp(now), pd.Timestamp(now + timedelta(hours=config.live_hours))

    def before_now(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame[frame[column] < moment].reset_index(drop=True)

    def between(frame: pd.DataFrame, start: pd.Timestamp, stop: pd.Timestamp, seed: int) -> pd.DataFrame:
        rows = frame[(frame[EVENT_TIMESTAMP] >= start) & (frame[EVENT_TIMESTAMP] < stop)]
        if config.once_per_phase:  # one event per entity, drawn at random among its events of the phase
            rows = rows.sample(frac=1.0, random_state=seed).drop_duplicates(list(config.once_per_phase))
        return rows.sample(min(config.traffic_rows, len(rows)), random_state=seed).sort_values(EVENT_TIMESTAMP)

    base, drifted = feeds.base, feeds.drifted
    history = before_now(base.events, EVENT_TIMESTAMP)
    backlog = before_now(drifted.events, EVENT_TIMESTAMP)
    both = pd.concat([base.events, drifted.events], ignore_index=True)
    return World(
        history_events=history,
        history_labels=before_now(base.labels[base.labels[EVENT_ID].isin(history[EVENT_ID])], LABEL_TIMESTAMP),
        normal_live=between(base.events, moment, later, seed=1),
        drifted_events=backlog,
        drifted_labels=before_now(drifted.labels[drifted.labels[EVENT_ID].isin(backlog[EVENT_ID])], LABEL_TIMESTAMP),
        drifted_live=between(both, later, later + timedelta(hours=config.live_hours), seed=2),
        live_labels=pd.concat([base.labels, drifted.labels], ignore_index=True),
    )


LABEL_STAGES = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0)  # shares of the drifted traffic's labels in, a check after each


def in_arrival_order(labels: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The labels of `events` in the order the world delivers them (by their delay after the event), with the
    delay in hours."""
    joined = labels.merge(events[[EVENT_ID, EVENT_TIMESTAMP]], on=EVENT_ID)
    delay = (joined[LABEL_TIMESTAMP] - joined[EVENT_TIMESTAMP]).dt.total_seconds() / 3600.0
    return joined.assign(delay_h=delay).sort_values("delay_h", kind="stable").reset_index(drop=True)


def _write(frame: pd.DataFrame, folder: Path, name: str) -> Path:
    """The demo's own lake export (a client-side file), which a landing then reads."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    frame.to_parquet(path, index=False)
    return path


def run_demo(settings: Settings, config: DemoConfig, say: Say, reset: bool, target: DemoTarget) -> dict[str, Any]:
    try:
        return _run_story(settings, config, say, reset, target)
    finally:
        target.close()


def _run_story(settings: Settings, config: DemoConfig, say: Say, reset: bool, target: DemoTarget) -> dict[str, Any]:
    layout = Layout.from_settings(settings)
    if target.name == "local" and reset:
        _reset_state(settings, say)
    elif target.name == "local" and layout.local_mlflow_exists:
        raise DriftloopError(f"{settings.state_dir} already holds a platform; run `driftloop demo --reset`")
    timeline = Timeline(say)
    now = datetime.now(UTC)
    use_case = load_use_case(settings.use_case)
    world = make_world(settings, config, now)
    exports, feed = layout.demo_lake, config.drifted_feed
    timeline.mark("data", f"generated the {use_case.name} world: {len(world.history_events)} events of history, "
                  f"{len(world.drifted_events)} more from the {feed} feed (lands later)")  # fmt: skip

    endpoints = target.start()
    client = target.client(endpoints)
    timeline.mark("up", f"{target.name} platform up: " + ", ".join(f"{k} {v}" for k, v in endpoints.items()))

    landed = [
        client.land("events", _write(world.history_events, exports, "history-events")),
        client.land("labels", _write(world.history_labels, exports, "history-labels")),
    ]
    timeline.mark("history", "history landed: " + "; ".join(line.split(": ", 1)[1] for line in landed))

    target.train(client, trigger="demo:initial")
    first = _champion(settings)
    if first is None:
        raise DriftloopError("demo: the first training run did not register a model (see its MLflow run)")
    timeline.mark("v1", f"trained and promoted v{first.version} ({first.tags.get('gate_reason', '')})")

    probe = world.normal_live.iloc[0]
    # One event (the use case's example, for entities of this world), sent until the expected version answers:
    # its fixed id keeps it one event.
    entities = {key: int(probe[key]) for key in use_case.entity_keys}
    probe_row = {**use_case.example_request, **entities, EVENT_ID: "demo-probe"}
    champion_before = _wait("v1 to serve", lambda: client.served_version(probe_row), 300)
    timeline.mark("v1_serving", f"endpoint {client.endpoint} answers with v{champion_before}")

    def traffic_then_check(transactions: pd.DataFrame, name: str, stages: tuple[float, ...] = (1.0,)) -> dict[str, Any]:
        """Fresh features, live transactions, then their labels back a share at a time (in the world's arrival
        order) with a drift check over those answers after each share, until one triggers; then the rest."""
        _same_hour_ahead(60.0 + 10.0 * len(stages))
        client.refresh_features()
        since = datetime.now(UTC)  # to the microsecond: answers a moment before (v1's probe) are not this phase's
        sent = client.send(transactions)
        served_scores[name] = sent.scores
        if sent.failures:
            raise DriftloopError(f"demo: {sent.failures} of {sent.requests} requests failed")
        labels = in_arrival_order(world.live_labels[world.live_labels[EVENT_ID].isin(sent.event_ids)], transactions)
        posted = 0
        outcome: dict[str, Any] = {}
        for share in stages:
            upto = round(share * len(labels))
            chunk = labels.iloc[posted:upto]
            client.post_labels(chunk)
            posted = upto
            outcome = client.check_drift(since)
            waited = f"up to {chunk['delay_h'].max():.0f} h after their transactions" if len(chunk) else "none new"
            timeline.mark(f"{name}_check" if share == stages[-1] or outcome["action"] == "trigger"
                          else f"{name}_check_{share:.2f}",
                          f"{name} traffic ({sent.rows} events, {posted} labels back, {waited}): "
                          f"{outcome['action']} ({outcome['reason']}); skew {outcome['skew_share']}")  # fmt: skip
            outcome["labels_in_share"] = posted / len(labels) if len(labels) else None
            if outcome["action"] == "trigger":
                break
        if posted < len(labels):
            client.post_labels(labels.iloc[posted:])  # the rest arrive: realised quality gets every label
        return outcome

    served_scores: dict[str, list[float]] = {}
    before = traffic_then_check(world.normal_live, "normal")
    # While v1 serves: the alert threshold comes from the normal traffic's scores, by the same model.
    burst = _play_burst(client, use_case, world, config, served_scores["normal"], timeline)

    landed = [
        client.land("events", _write(world.drifted_events, exports, f"{feed}-events")),
        client.land("labels", _write(world.drifted_labels, exports, f"{feed}-labels")),
    ]
    timeline.mark("drift_data", f"the {feed} feed landed: " + "; ".join(
        line.split(": ", 1)[1] for line in landed))  # fmt: skip

    loop_started = time.monotonic()
    after = traffic_then_check(world.drifted_live, "drift", LABEL_STAGES)
    handle = after.get("retraining_run")
    champion_after = champion_before
    # The endpoint is watched while the run works: the loop ends when it answers with the new champion, as it
    # does once the run registers it (the run's process then still stops its Ray and task host).
    watch = NewVersionWatch(client, probe_row, champion_before)
    if handle:

        def run_finished() -> bool:
            watch.look()
            return target.retraining_finished(handle)

        with target.retraining_steps(say):  # looked at 4 times a second (and below): v2's first answer ends the loop
            _wait("the retraining run", run_finished, config.timeout_s, interval=0.25)
        gate = _latest_gate_decision(settings)
        timeline.mark("retrained", f"retraining run finished: {gate['decision']} ({gate['reason']})")
        if gate["decision"] != PROMOTE:  # no new champion will serve: say why now, not after the timeout
            raise DriftloopError(f"demo: the retraining run's gate did not promote it: {gate['reason']}")
        champion_after = _wait(
            "the new champion to serve (the retraining run's log or KFP run says why not)",
            watch.look, config.timeout_s, interval=0.25,
        )  # fmt: skip
    served_at = watch.seen_at if watch.version else time.monotonic()
    loop_seconds = round(served_at - loop_started, 1)
    promoted = f" (gate: {_champion(settings).tags.get(VersionTag.GATE_REASON, '')})" if handle else ""
    timeline.mark(
        "v2_serving",
        f"endpoint answers with v{champion_after}, {loop_seconds}s after drifted traffic began{promoted}",
        at=served_at,
    )  # fmt: skip

    client.run("monitor", "quality")  # the quality job's command: the realised primary metric of labelled answers
    status = json.loads(client.run("data", "status", "--json").stdout)
    monitor = json.loads(client.run("monitor", "status", "--json").stdout)
    judged = after.get("estimate") or {}
    reconciled = [row for row in monitor["reconciliation"] if row["start"] == judged.get("start")
                  and row["end"] == judged.get("end")]  # fmt: skip
    summary = {
        "target": target.name,
        "use_case": use_case.name,
        "drifted_feed": feed,
        "champion_before": champion_before,
        "champion_after": champion_after,
        "drift_share_before": before["drift_share"],
        "drift_share_after": after["drift_share"],
        "skew_share": max(before["skew_share"] or 0.0, after["skew_share"] or 0.0),
        "retrain_triggered": bool(handle),
        "retrain_reason": after["reason"],
        "retrain_signal": after.get("signal"),
        # The share of the drifted traffic's labels in when the estimate reported the drop (None: it did not).
        "estimated_drop_detected_at_maturity": after["labels_in_share"]
        if "estimated_harm" in str(after.get("signal")) and after["action"] == "trigger"
        else None,  # fmt: skip
        "retraining_run": handle,
        "loop_seconds": loop_seconds,
        **_model_figures(settings, use_case, champion_before, champion_after),
        # The drift check's estimate held to the realised values once every label came back.
        "estimate_reconciled": {
            row["metric"]: {k: row[k] for k in ("estimate", "low", "high", "realised", "covered")} for row in reconciled
        },  # fmt: skip
        "burst": burst,
        "events_ingested": status["events"],
        "labels_ingested": status["labels"],
        "feature_freshness_s": status["feature_freshness_s"],
        "normal_check": before,
        "drift_check": after,
        "evidently_snapshots": snapshot_count(layout.evidently_workspace, project_name(settings))
        if target.name == "local"
        else None,
        "timeline": timeline.marks,
        "endpoints": {
            **endpoints,
            "inference_v1": f"{client.endpoint}/v1/models/{settings.model_name}:predict",
            "inference_v2": f"{client.endpoint}/v2/models/{settings.model_name}/infer",
            "labels": f"{client.endpoint}/v1/labels",
        },
    }
    out = layout.demo_summary
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    say(f"summary: {out}")
    return summary


class NewVersionWatch:
    """When the endpoint first answered with a version other than the one it served before."""

    def __init__(self, client: PlatformClient, probe: dict[str, Any], before: str) -> None:
        self.client, self.probe, self.before = client, probe, before
        self.version: str | None = None
        self.seen_at = 0.0

    def look(self) -> str | None:
        """The new version, once the endpoint has answered with it."""
        if self.version is None and (version := self.client.served_version(self.probe)) not in (None, self.before):
            self.version, self.seen_at = version, time.monotonic()
        return self.version


def _play_burst(
    client: PlatformClient,
    use_case: UseCase,
    world: World,
    config: DemoConfig,
    normal_scores: list[float],
    timeline: Timeline,
) -> dict[str, Any] | None:
    """The use case's live burst (`DemoPlan.burst`): its build-up a pause apart, then, once the stream worker has
    folded it, the request it should be caught at and the same request for a quiet twin. Caught means scored
    within the daily alert budget: above the normal traffic's score that many alerts a day would reach."""
    plan = use_case.generator.demo
    if plan is None or plan.burst is None or not normal_scores:
        return None
    burst = plan.burst(world.history_events)
    for index in range(len(burst.build_up)):
        client.send(burst.build_up.iloc[index : index + 1])
        time.sleep(burst.pause_s)
    waited = client.stream_caught_up()
    caught = client.send(burst.caught).scores[0]
    twin = client.send(burst.twin).scores[0]
    per_day = len(world.history_events) / config.days
    budget = use_case.metric.alert_budget
    share = min(1.0, budget / per_day) if isinstance(budget, int) and per_day else 0.05
    threshold = float(np.quantile(normal_scores, 1.0 - share))
    result = {
        "name": burst.name, "build_up": len(burst.build_up), "score": round(caught, 4), "twin_score": round(twin, 4),
        "alert_threshold": round(threshold, 4), "alert_share": round(share, 4), "caught": caught >= threshold,
        "stream_caught_up_s": round(waited, 2), "caught_event_id": str(burst.caught[EVENT_ID].iloc[0]),
    }  # fmt: skip
    timeline.mark(
        "burst",
        f"{burst.name}: {len(burst.build_up)} requests {burst.pause_s:g}s apart, then scored {caught:.3f} "
        f"(the same request for a quiet twin: {twin:.3f}; the alert budget's threshold {threshold:.3f}): "
        + ("caught" if result["caught"] else "missed"),
    )
    return result


def _champion(settings: Settings) -> Any:
    return current_champion(client_as(settings, MlflowUser.MONITOR), settings.model_name)


def _latest_gate_decision(settings: Settings) -> dict[str, Any]:
    """The newest training run's gate decision (the retraining run that just finished)."""
    latest = gate_decisions(client_as(settings, MlflowUser.MONITOR), settings.mlflow_experiment, 1)
    if not latest:
        raise DriftloopError("demo: the retraining run recorded no gate decision (see its MLflow run)")
    return latest[0]


def _same_hour_ahead(margin_s: float) -> None:
    """Wait out the last seconds of an hour: an hour boundary inside a traffic phase would leave its answers
    to a later refresh, and the check right after could not compare them yet."""
    into_hour = time.time() % 3600
    if into_hour > 3600 - margin_s:
        time.sleep(3600 - into_hour + 5)


SEARCH_SUMMARY_TAGS = (SearchTag.TRIALS, SearchTag.CHOSEN, SearchTag.SCORE, SearchTag.BUDGET, SearchTag.FALLBACK)


def _model_figures(settings: Settings, use_case: UseCase, before: str, after: str) -> dict[str, Any]:
    """Holdout figures of the use case's primary metric from the registry: v1's own, v2's, and v1 scored on v2's
    (newer) holdout; and the gate's evidence that promoted v2."""
    primary = use_case.metric.primary
    client = client_as(settings, MlflowUser.MONITOR)
    first = client.get_model_version(settings.model_name, before)
    figures: dict[str, Any] = {
        "primary_metric": primary,
        "higher_is_better": use_case.metric.higher_is_better,
        "v1_holdout": float(first.tags[holdout_tag(primary)]),
    }
    if after != before:
        second = client.get_model_version(settings.model_name, after)
        run = client.get_run(second.tags[VersionTag.MLFLOW_RUN_ID])
        figures["v2_holdout"] = float(second.tags[holdout_tag(primary)])
        figures["champion_on_new_holdout"] = run.data.metrics.get(f"champion_holdout_{primary}")
        figures["v2_gate_reason"] = second.tags.get(VersionTag.GATE_REASON, "")
        figures["v2_evidence"] = {  # what promoted v2 over v1 (pipelines/training/evidence.py)
            "metric": second.tags.get(VersionTag.EVIDENCE_METRIC),
            "improvement": second.tags.get(VersionTag.IMPROVEMENT),
            "interval": second.tags.get(VersionTag.IMPROVEMENT_CI),
            "confidence": second.tags.get(VersionTag.EVIDENCE_CONFIDENCE),
            "positives": second.tags.get(VersionTag.EVIDENCE_POSITIVES),
        }
        # The retraining run's hyperparameter search (pipelines/training/search.py), as its version records it.
        figures["v2_search"] = {tag.name.lower(): second.tags.get(tag) for tag in SEARCH_SUMMARY_TAGS}
        interval = figures["v2_evidence"]["interval"]
        # The gate's interval of v2's improvement over v1, as numbers: [low, high] in the evidence metric.
        figures["gate_improvement_ci"] = (
            [float(bound) for bound in interval.strip("[]").split(",")] if interval else None
        )
    return figures
