"""`fraud_streaming`: the fraud use case with merchant velocity too (`DRIFTLOOP_USE_CASE=fraud_streaming`).

The same declaration as `fraud` (`use_cases.fraud`: columns, label, hourly views, card velocity, model, metric,
gate, world, demo), plus per-merchant velocity kept fresh by the stream worker (`use_cases.fraud.streaming`).

Why not in `fraud`: `driftloop demo` sends twelve hours of the world within seconds. It can send each card at
most once per phase, so card windows read the phase as the world would; a merchant serves dozens of a phase's
transactions, and its five-minute window would count them all (dozens against the world's three), so the
demo's healthy traffic would drift and its model misjudge it. On traffic that arrives in real time (the
cluster's, the parity profile's) merchant velocity adds about a point of precision at the alert budget beyond
card velocity (bench/streaming_lift.py).
"""

from __future__ import annotations

from dataclasses import replace

from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.streaming import MERCHANT_VELOCITY_VIEW

USE_CASE = replace(
    FRAUD,
    name="fraud_streaming",
    model_name="fraud-velocity-detector",
    description="Card-transaction fraud score (probability), with per-card and per-merchant velocity fresh "
    "within a second (streamed views) beside the hourly features from Feast.",
    views=(*FRAUD.views, MERCHANT_VELOCITY_VIEW),
)
