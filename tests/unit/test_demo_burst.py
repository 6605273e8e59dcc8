"""The fraud demo's burst: its twin is the quiet card whose spending matches the tested card's by amount, usual and
largest alike, so the drain differs between them only by the card's last minutes."""

import pandas as pd

from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP
from use_cases.fraud.demo_burst import card_testing_burst
from use_cases.fraud.schema import AMOUNT, CHANNEL, CUSTOMER_ID, MERCHANT_ID

END = pd.Timestamp("2026-12-01 12:00", tz="UTC")


def _history(amounts_by_card: dict[int, list[float]]) -> pd.DataFrame:
    """Each card's payments a day apart over its last days, the last three hours before the end (all quiet)."""
    rows = []
    for card, amounts in amounts_by_card.items():
        for day, amount in enumerate(reversed(amounts)):
            stamp = END - pd.Timedelta(hours=3, days=day)
            rows.append({CUSTOMER_ID: card, MERCHANT_ID: 1, AMOUNT: amount, CHANNEL: "online",
                         EVENT_ID: f"{card}-{day}", EVENT_TIMESTAMP: stamp})  # fmt: skip
    rows.append({CUSTOMER_ID: 99, MERCHANT_ID: 1, AMOUNT: 5.0, CHANNEL: "online", EVENT_ID: "end",
                 EVENT_TIMESTAMP: END})  # fmt: skip
    return pd.DataFrame(rows)


def test_the_twin_matches_the_tested_cards_week_largest_not_only_its_usual_amount() -> None:
    history = _history(
        {
            1: [20.0, 21.0, 22.0, 117.0, 20.0],  # the tested card: usual 21, largest 117
            2: [21.0, 21.0, 21.0, 75.0, 21.0],  # the closest usual amount, but a drain of ~95 tops its week
            3: [19.0, 20.0, 23.0, 114.0, 20.0],  # a little further in usual, as large a week
            99: [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0],  # busy until the end: never chosen
        }
    )
    burst = card_testing_burst(history)
    assert burst.caught[CUSTOMER_ID].tolist() == [1]
    assert burst.twin[CUSTOMER_ID].tolist() == [3]
    assert burst.twin[AMOUNT].tolist() == burst.caught[AMOUNT].tolist()
