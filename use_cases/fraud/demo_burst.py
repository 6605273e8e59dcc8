"""The fraud demo's live burst: a card tested with small online payments seconds apart, then drained.

Played at the end of `driftloop demo` (`DemoPlan.burst`): the drain is scored once the stream worker has folded
the tests, beside the same drain on a quiet card of the same spending, so the difference is the card's last
minutes, which only the streamed view (`use_cases.fraud.streaming`) holds.

The victim is an ordinary card: of median activity in the history, and quiet for the hours before the demo
(its hourly features say nothing unusual). The drain is what the world's card-testing fraud takes, about 4.5x
the card's usual amount, so the one thing the burst adds is the card's last minutes. A busiest card would be a
bad victim: a burst of its own is its normal.
"""

from __future__ import annotations

import pandas as pd

from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP, Burst
from use_cases.fraud.schema import AMOUNT, CHANNEL, CUSTOMER_ID, MERCHANT_ID

TESTS = (1.0, 2.5, 1.75)  # the small amounts a card is tested with
DRAIN_TIMES_USUAL = 4.5  # the drain: about what the world's card-testing fraud takes, against the card's usual
PAUSE_S = 2.0  # between tests: the world's are 20-80 s apart; the model reads anything under that alike
QUIET_HOURS = 2  # neither card had a transaction this long before the demo's history ends


def _ordinary_cards(history: pd.DataFrame) -> pd.DataFrame:
    """Each card quiet for `QUIET_HOURS` before the history ends, most typical activity first (closest to the
    median card's count of transactions): its usual (median) amount and its largest of the history's last week
    (what the hourly features compare a payment with)."""
    end = history[EVENT_TIMESTAMP].max()
    by_card = history.groupby(CUSTOMER_ID)
    last, counts = by_card[EVENT_TIMESTAMP].max(), by_card.size()
    quiet = counts[last < end - pd.Timedelta(hours=QUIET_HOURS)]
    typical = (quiet - quiet.median()).abs().sort_values(kind="stable")
    week = history[history[EVENT_TIMESTAMP] > end - pd.Timedelta(days=7)]
    spending = pd.DataFrame({"usual": by_card[AMOUNT].median(), "largest": week.groupby(CUSTOMER_ID)[AMOUNT].max()})
    return spending.loc[typical.index].dropna()


def twin_of(cards: pd.DataFrame, card: int) -> int:
    """The other card whose spending is closest to `card`'s, in its usual amount and its week's largest alike: the
    same drain must look as unusual on both by amount (a twin whose week never reached the drain scored it higher
    than the tested card once, on its amount alone)."""
    others = cards.drop(card)
    mine = cards.loc[card]
    distance = (others["usual"] / mine["usual"] - 1).abs() + (others["largest"] / mine["largest"] - 1).abs()
    return int(distance.sort_values(kind="stable").index[0])


def card_testing_burst(history: pd.DataFrame) -> Burst:
    """Tests then a drain on an ordinary quiet card, and the same drain on the quiet card whose spending is closest
    to its own (history: the world's landed events)."""
    cards = _ordinary_cards(history)
    card = int(cards.index[0])
    twin = twin_of(cards, card)
    merchant = int(history[MERCHANT_ID].value_counts().index[0])
    drain = round(float(cards["usual"].to_numpy(dtype=float)[0]) * DRAIN_TIMES_USUAL, 2)  # the tested card's

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
        pause_s=PAUSE_S,
    )
