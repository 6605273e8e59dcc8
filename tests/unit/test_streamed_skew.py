"""The skew check's streamed columns: the value training joins for a served event, and a served value told apart
as right, stale (an earlier row the worker had not replaced yet) or skewed (no replayed row ever held it)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.streamed_skew import stale_rows, streamed_offline
from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP, load_use_case

FRAUD = load_use_case("fraud_streaming")
T0 = pd.Timestamp("2026-12-01T12:00:00Z")


def _events() -> pd.DataFrame:
    """Card 7 pays three times a few seconds apart; card 8 once."""
    offsets = [0.0, 2.0, 4.0, 1.0]
    return pd.DataFrame(
        {
            EVENT_ID: ["a", "b", "c", "x"],
            EVENT_TIMESTAMP: [T0 + pd.Timedelta(seconds=s) for s in offsets],
            "customer_id": [7, 7, 7, 8],
            "merchant_id": [1, 2, 1, 1],
            "amount": [1.5, 2.5, 100.0, 9.0],
            "channel": ["online"] * 4,
        }
    )


def test_training_sees_what_came_strictly_before_each_event() -> None:
    events = _events()
    offline = streamed_offline(FRAUD, events, events).set_index(EVENT_ID)
    assert np.isnan(offline.loc["a", "card_velocity__txn_count_5m"])  # nothing before the card's first payment
    assert offline.loc["b", "card_velocity__txn_count_5m"] == 1
    assert offline.loc["c", "card_velocity__txn_count_5m"] == 2
    assert offline.loc["c", "card_velocity__amount_sum_5m"] == 4.0
    assert offline.loc["c", "card_velocity__seconds_since_previous"] == 2.0
    # the merchant view: merchant 1 had a (t=0) and x (t=1) before c
    assert offline.loc["c", "merchant_velocity__txn_count_5m"] == 2


def test_a_served_value_is_right_stale_or_skewed() -> None:
    events = _events()
    offline = streamed_offline(FRAUD, events, events)
    served = offline.copy()
    columns = [c for c in served.columns if c.startswith(("card_velocity__", "merchant_velocity__"))]
    served.loc[served[EVENT_ID] == "c", [c for c in columns if c.startswith("card_")]] = offline.loc[
        offline[EVENT_ID] == "b", [c for c in columns if c.startswith("card_")]
    ].to_numpy()  # c served with the row after a: b's push had not landed yet
    served.loc[served[EVENT_ID] == "b", "card_velocity__txn_count_5m"] = 5  # no replayed row ever held 5
    result = stale_rows(FRAUD, served, events, ["b", "c"], default=0.0)
    assert result.stale == {"c"}
    assert result.behind_s == 3.999999  # served at t=4 with the row stamped just after a (t=0 + 1 us)
    nothing_yet = offline.copy()
    nothing_yet.loc[nothing_yet[EVENT_ID] == "b", [c for c in columns if c.startswith("card_")]] = np.nan
    assert stale_rows(FRAUD, nothing_yet, events, ["b"], default=0.0).stale == {"b"}  # defaults: not pushed yet
