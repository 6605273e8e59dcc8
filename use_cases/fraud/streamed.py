"""`fraud_streaming`: the fraud use case with its streamed views in the model (`DRIFTLOOP_USE_CASE=fraud_streaming`).

The same declaration as `fraud` (`use_cases.fraud`: columns, label, hourly views, model, metric, gate, world),
plus card and merchant velocity kept fresh by the stream worker (`use_cases.fraud.streaming`), and a demo that
plays a card-testing burst live at its end (`use_cases.fraud.demo_burst`).

Why a use case of its own for now: `driftloop demo` sends twelve hours of the world within seconds. Hourly
features never see that compression (a phase stays inside one hour, whose rows summarise only what came before
it); five-minute and one-hour windows over receipt times do, and the demo's story (v1 misses the wallet fraud,
v2 learns it) did not survive it (issue 31's closing note). `fraud` stays the demo's default until the demo
plays its traffic in a way streamed windows can read.
"""

from __future__ import annotations

from dataclasses import replace

from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.demo_burst import card_testing_burst
from use_cases.fraud.streaming import STREAM_VIEWS

assert FRAUD.generator.demo is not None
USE_CASE = replace(
    FRAUD,
    name="fraud_streaming",
    model_name="fraud-velocity-detector",
    description="Card-transaction fraud score (probability), with per-card and per-merchant velocity fresh "
    "within a second (streamed views) beside the hourly features from Feast.",
    views=(*FRAUD.views, *STREAM_VIEWS),
    generator=replace(FRAUD.generator, demo=replace(FRAUD.generator.demo, burst=card_testing_burst)),
)
