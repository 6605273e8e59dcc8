"""A seeded generator of card transactions and late fraud labels, in two feeds, with a drift knob.

The base feed (the card network) is stationary over [start, end). Its fraud is learnable only through the
features the platform computes, and only in part, as real fraud overlaps with real spending. Fraudsters
hit a card in bursts over a few hours (`txn_count_1h`, `txn_count_24h`), mostly online, for amounts well
above the customer's usual (amount vs `amount_mean_7d`), often at a risky merchant while it is compromised,
whose chargebacks pile up as labels arrive (`chargeback_rate_30d`). But a fifth of the bursts are a single
transaction, a quarter of the fraud is of an ordinary amount, more than half is at ordinary merchants, a
risky merchant is compromised only 6 days in 10, merchants have their own price levels, and legit
customers go on online shopping sprees and make big-ticket purchases.

The base feed also holds card testing, fraud that plays out within minutes: a stolen card is tested with 2-5
small payments (0.5-5.0, mostly online) within 1-4 minutes, then drained with 1-3 payments far above the
customer's usual, the first 2-15 minutes after the first test (and after the last). The hourly views see the
burst only once the card is drained; velocity as of the card's latest transaction (`use_cases.fraud.streaming`)
sees it as it happens. `card_testing_rate` is its share of the base feed's fraud events (default 0.2, which
takes the base feed's fraud from about 2.0% to 2.3-2.5%; 0 turns it off). Legit customers make runs of small
payments too (transit taps, vending, in-app purchases: 2 + Poisson(1.5) at one merchant within ~20 minutes),
so small payments in a row are no proof alone. These short bursts come from a seeded stream of their own, with
ids `txn-{seed}-c{n:07d}` in the base feed's batch: the rest of the base feed is what it was before them, row
for row (`card_testing_bursts` finds a feed's bursts again).

A first model (30 days, 500 customers, the hourly views) scores a holdout ROC AUC of about 0.87-0.93, not 1.0;
with the streamed views too, 0.01-0.04 more (`bench/streaming_lift.py`).

From `drift_start_day` a second feed starts: a newly connected contactless wallet partner. Its EXTRA
transactions come from the same customers at the same merchants: more activity, bigger amounts, mostly
contactless. Its fraud is new: enrolled stolen cards tapping at ordinary merchants, ordinary amounts under
the contactless no-PIN limit, long bursts. A model trained on the base feed misses it (and the extra
activity blurs its velocity cues); one retrained on both feeds learns it. `drift_strength` scales the
wallet's volume, amount uplift and fraud share. The feeds never rewrite each other, so both can land in an
append-only event store; each draws from its own seeded stream, so a seed's base feed is the same
whatever the drift settings.

Labels arrive late, one per event: a lognormal delay clipped to [1 hour, 7 days] (the label maturity
window), median 1.5 days for settlement. Fraud chargebacks are a little slower (median 2 days): the
cardholder has to notice and dispute. The bias is kept small: real, but a large one would starve the
newest arrived labels of fraud (training waits out the maturity window; live label metrics do not).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.core.use_case import Batch, Feeds, GeneratorConfig
from pipelines.data.raw_data import arrived
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP
from use_cases.fraud.schema import (
    AMOUNT,
    CHANNEL,
    CHANNELS,
    CUSTOMER_ID,
    EVENT_COLUMNS,
    IS_FRAUD,
    LABEL_COLUMNS,
    MERCHANT_ID,
)

logger = logging.getLogger(__name__)

HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS
GENERATED_AMOUNT_CAP = 50_000.0  # the largest amount the generator writes (well inside the contract's MAX_AMOUNT)
ONLINE = CHANNELS.index("online")

RISKY_MERCHANT_SHARE = 0.1
PRICE_LEVEL_SIGMA = 0.35
RISKY_CYCLE_DAYS, RISKY_ACTIVE_SHARE = 10.0, 0.6  # a risky merchant is compromised 6 days in 10
BIG_TICKET_SHARE = 0.04  # legit purchases far above the customer's usual (~exp(1.3) = 3.7x)
SPREES_PER_CUSTOMER_DAY = 0.06  # legit bursts: 1 + Poisson(2.5) purchases over ~2 hours
FRAUD_EXTRA_MEAN, FRAUD_HOURS = 1.5, 3.0  # burst size 1 + Poisson(1.5); spread over ~3 hours
FRAUD_AT_RISKY, FRAUD_BIG_SHARE, FRAUD_BIG_LOG = 0.7, 0.75, 1.5  # big: ~exp(1.5) = 4.5x the usual
FRAUD_CHANNELS = (0.7, 0.1, 0.2)  # online, in_store, contactless
CARD_TESTS, CARD_DRAINS = (2, 5), (1, 3)  # per stolen card, inclusive
CARD_TEST_AMOUNT = (0.5, 5.0)  # a drain is always above the top: the amount tells the stages apart
CARD_TEST_MINUTES, CARD_DRAIN_MINUTES = (1.0, 4.0), (2.0, 15.0)  # the tests' span; first drain after 1st test
CARD_TEST_CHANNELS = (0.85, 0.05, 0.1)
CARD_TEST_SAME_MERCHANT = 0.6  # a tester mostly reuses one merchant that accepts tiny payments
CARD_DRAIN_LOG = 1.5  # ~exp(1.5) = 4.5x the usual, as the other fraud's big payments
CARD_BURST_GAP_MINUTES = 60.0  # a card's card-testing events further apart than this are two bursts
MICRO_RUNS_PER_CUSTOMER_DAY = 0.03  # legit runs of 2 + Poisson(1.5) small payments at one merchant
MICRO_RUN_MINUTES = (2.0, 20.0)
MICRO_RUN_CHANNELS = (0.35, 0.15, 0.5)  # in-app purchases; vending; transit taps
WALLET_ACTIVITY, WALLET_AMOUNT = 0.8, 0.8  # per unit of drift_strength: extra rate, amount uplift
WALLET_CHANNELS = (0.1, 0.05, 0.85)
WALLET_FRAUD_SHARE, WALLET_FRAUD_EXTRA, WALLET_FRAUD_HOURS = 0.04, 6.0, 6.0
WALLET_FRAUD_CHANNELS = (0.03, 0.02, 0.95)
SHORT_BURST_MARK = "-c"  # ids of the short-burst stream: txn-{seed}-c{n:07d}
CONTACTLESS_LIMIT = 50.0
LEGIT_DELAY_DAYS, FRAUD_DELAY_DAYS, DELAY_SIGMA = 1.5, 2.0, 0.7


@dataclass(frozen=True)
class FraudConfig(GeneratorConfig):
    """What to generate over [end - days, end); `end` is exclusive, no event is stamped at or after it.
    `size` is the customers; the merchants, the fraud rate and card testing's share of it are this world's own
    knobs."""

    size: int = 1000
    merchants: int = 100
    fraud_rate: float = 0.02
    card_testing_rate: float = 0.2  # card testing's share of the base feed's fraud events

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.merchants < 2:
            raise ValueError("need merchants >= 2")
        if not 0 < self.fraud_rate < 0.5:
            raise ValueError("fraud_rate must be in (0, 0.5)")
        if not 0 <= self.card_testing_rate < 1:
            raise ValueError("card_testing_rate must be in [0, 1)")


@dataclass(frozen=True)
class _Population:
    amount_scale: np.ndarray  # per customer: typical amount
    daily_rate: np.ndarray  # per customer: transactions per day
    channel_pref: np.ndarray  # per customer: probabilities over CHANNELS
    merchant_weight: np.ndarray  # per merchant: popularity
    price_level: np.ndarray  # per merchant: a grocer is cheaper than an electronics shop
    risky: np.ndarray  # ids of the merchants fraudsters favour
    risky_phase: np.ndarray  # per merchant: where in its compromise cycle it starts (days)


def _population(config: FraudConfig, rng: np.random.Generator) -> _Population:
    weight = rng.pareto(1.5, size=config.merchants) + 1.0
    risky = rng.choice(config.merchants, size=max(1, int(config.merchants * RISKY_MERCHANT_SHARE)), replace=False)
    # Staggered compromise cycles: each risky merchant comes and goes, but about as many are active at any time.
    phase = np.zeros(config.merchants)
    phase[risky] = (
        rng.uniform(0, RISKY_CYCLE_DAYS) + np.arange(len(risky)) * RISKY_CYCLE_DAYS / len(risky)
    ) % RISKY_CYCLE_DAYS
    return _Population(
        amount_scale=rng.lognormal(mean=3.6, sigma=0.6, size=config.size),
        daily_rate=rng.gamma(shape=2.0, scale=1.5, size=config.size),
        channel_pref=rng.dirichlet([2.0, 5.0, 3.0], size=config.size),
        merchant_weight=weight / weight.sum(),
        price_level=rng.lognormal(0.0, PRICE_LEVEL_SIGMA, size=config.merchants),
        risky=np.sort(risky),
        risky_phase=phase,
    )


def _channels(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    """One channel index per row from per-row (n, 3) or shared (3,) probabilities."""
    cumulative = np.cumsum(np.broadcast_to(probs, (n, len(CHANNELS))), axis=1)
    return np.minimum((rng.random(n)[:, None] > cumulative).sum(axis=1), len(CHANNELS) - 1)


def _popular(rng: np.random.Generator, pop: _Population, n: int) -> np.ndarray:
    return rng.choice(len(pop.merchant_weight), size=n, p=pop.merchant_weight)


def _bursts(
    rng: np.random.Generator, who: np.ndarray, start_ns: int, span_ns: int, extra_mean: float, hours: float
) -> tuple[np.ndarray, np.ndarray]:
    """(customer, time) per row of bursts of 1 + Poisson(extra_mean) rows, spread over ~`hours` each."""
    size = 1 + rng.poisson(extra_mean, size=len(who))
    begin = start_ns + rng.integers(0, span_ns, size=len(who))
    duration = rng.lognormal(np.log(hours), 0.6, size=len(who)) * HOUR_NS
    rows = np.repeat(np.arange(len(who)), size)
    offset = (rng.random(len(rows)) * duration[rows]).astype(np.int64)
    return who[rows], begin[rows] + offset


def _amounts(
    rng: np.random.Generator,
    pop: _Population,
    customer: np.ndarray,
    merchant: np.ndarray,
    log_mean: float | np.ndarray,
    sigma: float | np.ndarray,
) -> np.ndarray:
    """The customer's usual amount at the merchant's price level, times lognormal(log_mean, sigma) noise."""
    noise = rng.lognormal(log_mean, sigma, size=len(customer))
    return pop.amount_scale[customer] * pop.price_level[merchant] * noise


def _rows(
    t: np.ndarray, customer: np.ndarray, merchant: np.ndarray, amount: np.ndarray, channel: np.ndarray, fraud: int
) -> pd.DataFrame:
    columns = {"t": t, CUSTOMER_ID: customer, MERCHANT_ID: merchant, AMOUNT: amount, "ch": channel}
    return pd.DataFrame({**columns, IS_FRAUD: np.full(len(t), fraud)})


def _base_rows(config: FraudConfig, pop: _Population, rng: np.random.Generator) -> pd.DataFrame:
    start, span = config.start.value, config.days * DAY_NS
    customer = np.repeat(np.arange(config.size), rng.poisson(pop.daily_rate * config.days))
    n = len(customer)
    merchant = _popular(rng, pop, n)
    big = rng.random(n) < BIG_TICKET_SHARE
    amount = _amounts(rng, pop, customer, merchant, np.where(big, 1.3, 0.0), 0.5)
    t = start + rng.integers(0, span, size=n)
    everyday = _rows(t, customer, merchant, amount, _channels(rng, pop.channel_pref[customer], n), 0)
    # Sprees: legit bursts, leaning online, a little above the usual amount, so velocity alone is no proof.
    sprees_count = rng.poisson(SPREES_PER_CUSTOMER_DAY * config.size * config.days)
    customer, t = _bursts(rng, rng.integers(0, config.size, size=sprees_count), start, span, 2.5, 2.0)
    n = len(customer)
    merchant = _popular(rng, pop, n)
    channel = _channels(rng, 0.5 * pop.channel_pref[customer] + 0.5 * np.eye(len(CHANNELS))[ONLINE], n)
    sprees = _rows(t, customer, merchant, _amounts(rng, pop, customer, merchant, 0.3, 0.6), channel, 0)
    # Fraud: a card in the wrong hands, often at a merchant that is compromised right now, often big.
    bursts = max(1, round(config.fraud_rate * (len(everyday) + len(sprees)) / (1 + FRAUD_EXTRA_MEAN)))
    customer, t = _bursts(rng, rng.integers(0, config.size, size=bursts), start, span, FRAUD_EXTRA_MEAN, FRAUD_HOURS)
    n = len(customer)
    merchant = rng.choice(pop.risky, size=n)
    cycle_day = (t / DAY_NS + pop.risky_phase[merchant]) % RISKY_CYCLE_DAYS
    at_risky = (cycle_day < RISKY_ACTIVE_SHARE * RISKY_CYCLE_DAYS) & (rng.random(n) < FRAUD_AT_RISKY)
    merchant = np.where(at_risky, merchant, _popular(rng, pop, n))
    big = rng.random(n) < FRAUD_BIG_SHARE
    amount = _amounts(rng, pop, customer, merchant, np.where(big, FRAUD_BIG_LOG, 0.0), np.where(big, 0.5, 0.6))
    fraud = _rows(t, customer, merchant, amount, _channels(rng, np.array(FRAUD_CHANNELS), n), 1)
    return pd.concat([everyday, sprees, fraud], ignore_index=True)


def _wallet_rows(config: FraudConfig, pop: _Population, rng: np.random.Generator) -> pd.DataFrame:
    """The wallet partner's extra transactions from drift_start on, and its new kind of fraud."""
    if config.drift_start is None:
        empty = np.zeros(0, dtype=np.int64)
        return _rows(empty, empty, empty, empty.astype(np.float64), empty, 0)
    start, strength = config.drift_start.value, config.drift_strength
    span = pd.Timestamp(config.end).value - start
    rate = pop.daily_rate * WALLET_ACTIVITY * strength * span / DAY_NS
    customer = np.repeat(np.arange(config.size), rng.poisson(rate))
    n = len(customer)
    merchant = _popular(rng, pop, n)
    amount = _amounts(rng, pop, customer, merchant, np.log1p(WALLET_AMOUNT * strength), 0.5)
    t = start + rng.integers(0, span, size=n)
    legit = _rows(t, customer, merchant, amount, _channels(rng, np.array(WALLET_CHANNELS), n), 0)
    # Enrolled stolen cards: long contactless bursts at ordinary merchants, each tap under the no-PIN limit.
    bursts = round(WALLET_FRAUD_SHARE * strength * n / (1 + WALLET_FRAUD_EXTRA))
    victims = rng.integers(0, config.size, size=bursts)
    customer, t = _bursts(rng, victims, start, span, WALLET_FRAUD_EXTRA, WALLET_FRAUD_HOURS)
    n = len(customer)
    amount = CONTACTLESS_LIMIT * rng.uniform(0.5, 0.98, size=n)
    fraud = _rows(t, customer, _popular(rng, pop, n), amount, _channels(rng, np.array(WALLET_FRAUD_CHANNELS), n), 1)
    return pd.concat([legit, fraud], ignore_index=True)


def _minutes(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    """`n` durations drawn uniformly within `bounds` minutes, in nanoseconds."""
    return (rng.uniform(*bounds, size=n) * 60e9).astype(np.int64)


def _firsts(groups: np.ndarray) -> np.ndarray:
    """Where each run of equal consecutive `groups` starts."""
    return np.diff(groups, prepend=-1) != 0


def _steps_within(groups: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Running sums of `steps` restarting at each run of equal `groups` (its first step ignored)."""
    first = _firsts(groups)
    running = np.cumsum(np.where(first, 0, steps))
    return running - running[np.flatnonzero(first)][np.cumsum(first) - 1]


def _card_testing_rows(config: FraudConfig, pop: _Population, rng: np.random.Generator, other: int) -> pd.DataFrame:
    """Stolen cards tested with small payments, then drained minutes later: `card_testing_rate` of the base
    feed's fraud events, beside its `other` fraud events."""
    rate, mean_size = config.card_testing_rate, float(np.mean(CARD_TESTS) + np.mean(CARD_DRAINS))
    cards = round(rate / (1 - rate) * other / mean_size)
    victim = rng.integers(0, config.size, size=cards)
    begin = config.start.value + rng.integers(0, config.days * DAY_NS, size=cards)
    tests, last_test = _card_tests(pop, rng, victim, begin)
    # The first drain a few minutes after the first test, and after the last.
    after_tests = last_test + _minutes(rng, (0.5, 2.0), cards)
    first_drain = np.maximum(begin + _minutes(rng, CARD_DRAIN_MINUTES, cards), after_tests)
    return pd.concat([tests, _card_drains(pop, rng, victim, first_drain)], ignore_index=True)


def _card_tests(
    pop: _Population, rng: np.random.Generator, victim: np.ndarray, begin: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """Each card's tests (the first at `begin`, the others within minutes, mostly at one merchant), and each
    card's last test time."""
    card = np.repeat(np.arange(len(victim)), rng.integers(CARD_TESTS[0], CARD_TESTS[1] + 1, size=len(victim)))
    span = _minutes(rng, CARD_TEST_MINUTES, len(victim))[card]
    t = begin[card] + np.where(_firsts(card), 0, (rng.random(len(card)) * span).astype(np.int64))
    last = begin.copy()
    np.maximum.at(last, card, t)
    favourite = _popular(rng, pop, len(victim))[card]
    merchant = np.where(rng.random(len(card)) < CARD_TEST_SAME_MERCHANT, favourite, _popular(rng, pop, len(card)))
    amount = rng.uniform(*CARD_TEST_AMOUNT, size=len(card))
    channel = _channels(rng, np.array(CARD_TEST_CHANNELS), len(card))
    return _rows(t, victim[card], merchant, amount, channel, 1), last


def _card_drains(
    pop: _Population, rng: np.random.Generator, victim: np.ndarray, first_drain: np.ndarray
) -> pd.DataFrame:
    """Each card's large payments, a minute or so apart from `first_drain` on, always above any test's amount."""
    card = np.repeat(np.arange(len(victim)), rng.integers(CARD_DRAINS[0], CARD_DRAINS[1] + 1, size=len(victim)))
    t = first_drain[card] + _steps_within(card, _minutes(rng, (0.5, 3.0), len(card)))
    customer, merchant = victim[card], _popular(rng, pop, len(card))
    amount = np.maximum(_amounts(rng, pop, customer, merchant, CARD_DRAIN_LOG, 0.4), 2 * CARD_TEST_AMOUNT[1])
    return _rows(t, customer, merchant, amount, _channels(rng, np.array(FRAUD_CHANNELS), len(card)), 1)


def _micro_runs(config: FraudConfig, pop: _Population, rng: np.random.Generator) -> pd.DataFrame:
    """Legit runs of small payments at one merchant within minutes: transit taps, vending, in-app purchases."""
    runs = rng.poisson(MICRO_RUNS_PER_CUSTOMER_DAY * config.size * config.days)
    who = rng.integers(0, config.size, size=runs)
    begin = config.start.value + rng.integers(0, config.days * DAY_NS, size=runs)
    run = np.repeat(np.arange(runs), 2 + rng.poisson(1.5, size=runs))
    t = begin[run] + (rng.random(len(run)) * _minutes(rng, MICRO_RUN_MINUTES, runs)[run]).astype(np.int64)
    merchant = _popular(rng, pop, runs)[run]
    channel = _channels(rng, np.array(MICRO_RUN_CHANNELS), runs)[run]
    return _rows(t, who[run], merchant, rng.uniform(*CARD_TEST_AMOUNT, size=len(run)), channel, 0)


def _batch(rows: pd.DataFrame, config: FraudConfig, id_format: str, rng: np.random.Generator) -> Batch:
    """Rows before `end`, sorted by time, with ids `id_format.format(i)` and a late label each."""
    rows = rows[rows["t"] < pd.Timestamp(config.end).value]
    rows = rows.sort_values(["t", CUSTOMER_ID, MERCHANT_ID], kind="stable").reset_index(drop=True)
    # Microsecond precision, as card networks and most parquet writers deliver it.
    t = (rows["t"].to_numpy(np.int64) // 1000) * 1000
    fraud = rows[IS_FRAUD].to_numpy(np.int64)
    event_ids = pd.array([id_format.format(i) for i in range(len(rows))], dtype="string")
    events = pd.DataFrame(
        {
            EVENT_ID: event_ids,
            EVENT_TIMESTAMP: pd.to_datetime(t, utc=True).as_unit("ns"),
            CUSTOMER_ID: rows[CUSTOMER_ID].to_numpy(np.int64),
            MERCHANT_ID: rows[MERCHANT_ID].to_numpy(np.int64),
            AMOUNT: np.round(np.clip(rows[AMOUNT].to_numpy(np.float64), 0.5, GENERATED_AMOUNT_CAP), 2),
            CHANNEL: pd.array(np.array(CHANNELS, dtype=object)[rows["ch"].to_numpy(np.int64)], dtype="string"),
        }
    )
    median_days = np.where(fraud == 1, FRAUD_DELAY_DAYS, LEGIT_DELAY_DAYS)
    delay_ns = np.clip(rng.lognormal(np.log(median_days), DELAY_SIGMA) * DAY_NS, HOUR_NS, 7 * DAY_NS)
    label_t = ((t + delay_ns.astype(np.int64)) // 1000) * 1000
    labels = pd.DataFrame(
        {EVENT_ID: event_ids, IS_FRAUD: fraud, LABEL_TIMESTAMP: pd.to_datetime(label_t, utc=True).as_unit("ns")}
    )
    return Batch(events.astype(EVENT_COLUMNS), labels.astype(LABEL_COLUMNS))


def _merged(one: Batch, other: Batch) -> Batch:
    """Two batches as one, sorted by time (ties: customer, merchant, then `one` first)."""
    events = pd.concat([one.events, other.events], ignore_index=True)
    order = np.lexsort((events[MERCHANT_ID], events[CUSTOMER_ID], events[EVENT_TIMESTAMP]))
    labels = pd.concat([one.labels, other.labels], ignore_index=True)
    return Batch(events.iloc[order].reset_index(drop=True), labels.iloc[order].reset_index(drop=True))


def generate_feeds(config: FraudConfig) -> Feeds:
    """Both feeds; the same config gives the same frames, and the base feed ignores the drift settings.

    Each part draws from its own seeded stream, so adding the wallet feed cannot shift the base feed, nor the
    short bursts (spawned last, with ids of their own) the rest of it.
    """
    population_rng, base_rng, wallet_rng, short_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(4)
    )
    pop = _population(config, population_rng)
    rows = _base_rows(config, pop, base_rng)
    base = _batch(rows, config, f"txn-{config.seed}-{{:08d}}", base_rng)
    short = pd.concat(
        [_card_testing_rows(config, pop, short_rng, int(rows[IS_FRAUD].sum())), _micro_runs(config, pop, short_rng)],
        ignore_index=True,
    )
    base = _merged(base, _batch(short, config, f"txn-{config.seed}{SHORT_BURST_MARK}{{:07d}}", short_rng))
    drifted = _batch(_wallet_rows(config, pop, wallet_rng), config, f"txn-{config.seed}-d{{:07d}}", wallet_rng)
    for name, batch in (("base", base), ("drifted", drifted)):
        fraud = batch.labels[IS_FRAUD].mean() if len(batch.labels) else 0.0
        logger.info("%s feed: %d events (%.2f%% fraud)", name, len(batch.events), 100 * fraud)
    return Feeds(base, drifted)


def card_testing_bursts(events: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """A base feed's card-testing events (the short-burst stream's fraud), each with its `burst` (0, 1, ... per
    feed) and `stage` ("test" or "drain"): what benches and tests measure the fresh features on."""
    fraud = labels.loc[labels[IS_FRAUD] == 1, EVENT_ID]
    mine = events[events[EVENT_ID].str.contains(rf"{SHORT_BURST_MARK}\d{{7}}$") & events[EVENT_ID].isin(fraud)]
    mine = mine.sort_values([CUSTOMER_ID, EVENT_TIMESTAMP], kind="stable")
    gap = mine.groupby(CUSTOMER_ID)[EVENT_TIMESTAMP].diff()
    new = (gap.isna() | (gap > pd.Timedelta(minutes=CARD_BURST_GAP_MINUTES))).to_numpy()
    stage = np.where(mine[AMOUNT].to_numpy() > CARD_TEST_AMOUNT[1], "drain", "test")
    return mine.assign(burst=np.cumsum(new) - 1, stage=stage).reset_index(drop=True)


def generate(config: FraudConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both feeds' events sorted by time, and the labels that have arrived by `config.end` (tests, benches)."""
    return arrived(generate_feeds(config), config.end)
