"""The fraud demo's live burst: a card tested with small online payments a second apart, then drained.

Played at the end of `driftloop demo` (`DemoPlan.burst`): the drain is scored once the stream worker has folded
the tests, beside the same drain on a quiet card of the same spending, so the difference is the card's last
minutes, which only the streamed views (`use_cases.fraud.streaming`) hold.
"""

from __future__ import annotations

import pandas as pd

from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP, Burst
from use_cases.fraud.schema import AMOUNT, CHANNEL, CUSTOMER_ID, MERCHANT_ID

TESTS = (1.0, 2.5, 1.75)  # the small amounts a card is tested with
DRAIN_TIMES_USUAL = 4.5  # the drain: about what the world's card-testing fraud takes, against the card's usual


def card_testing_burst(history: pd.DataFrame) -> Burst:
    """Tests then a drain on the busiest card of the history, and the drain on the card whose usual amount is
    closest to it (history: the world's landed events)."""
    usual = history.groupby(CUSTOMER_ID)[AMOUNT].median()
    counts = history[CUSTOMER_ID].value_counts()
    card = int(counts.index[0])
    others = usual.drop(card)
    twin = int((others - usual[card]).abs().idxmin())
    merchant = int(history[MERCHANT_ID].value_counts().index[0])
    drain = round(float(usual[card]) * DRAIN_TIMES_USUAL, 2)

    def rows(customer: int, amounts: tuple[float, ...], name: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                CUSTOMER_ID: [customer] * len(amounts),
                MERCHANT_ID: [merchant] * len(amounts),
                AMOUNT: list(amounts),
                CHANNEL: ["online"] * len(amounts),
                EVENT_ID: [f"demo-burst-{name}-{index}" for index in range(len(amounts))],
                EVENT_TIMESTAMP: pd.Timestamp.now(tz="UTC"),  # a request's time is the server's; kept for the frame
            }
        )

    return Burst(
        name="card testing",
        build_up=rows(card, TESTS, "test"),
        caught=rows(card, (drain,), "drain"),
        twin=rows(twin, (drain,), "twin"),
    )
