"""A seeded generator of card transactions and late fraud labels, in two feeds, with a drift knob.

The base feed (the card network) is stationary over [start, end). Its fraud is learnable only through the
features the platform computes, and only in part, as real fraud overlaps with real spending. Fraudsters
hit a card in bursts over a few hours (`txn_count_1h`, `txn_count_24h`), mostly online, for amounts well
above the customer's usual (amount vs `amount_mean_7d`), often at a risky merchant while it is compromised,
whose chargebacks pile up as labels arrive (`chargeback_rate_30d`). But a fifth of the bursts are a single
transaction, a quarter of the fraud is of an ordinary amount, more than half is at ordinary merchants, a
risky merchant is compromised only 6 days in 10, merchants have their own price levels, and legit
customers go on online shopping sprees and make big-ticket purchases. A first model (30 days, 500
customers) scores a holdout ROC AUC of about 0.90-0.93, not 1.0.

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
WALLET_ACTIVITY, WALLET_AMOUNT = 0.8, 0.8  # per unit of drift_strength: extra rate, amount uplift
WALLET_CHANNELS = (0.1, 0.05, 0.85)
WALLET_FRAUD_SHARE, WALLET_FRAUD_EXTRA, WALLET_FRAUD_HOURS = 0.04, 6.0, 6.0
WALLET_FRAUD_CHANNELS = (0.03, 0.02, 0.95)
CONTACTLESS_LIMIT = 50.0
LEGIT_DELAY_DAYS, FRAUD_DELAY_DAYS, DELAY_SIGMA = 1.5, 2.0, 0.7


@dataclass(frozen=True)
class FraudConfig(GeneratorConfig):
    """What to generate over [end - days, end); `end` is exclusive, no event is stamped at or after it.
    `size` is the customers; the merchants and the fraud rate are this world's own knobs."""

    size: int = 1000
    merchants: int = 100
    fraud_rate: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.merchants < 2:
            raise ValueError("need merchants >= 2")
        if not 0 < self.fraud_rate < 0.5:
            raise ValueError("fraud_rate must be in (0, 0.5)")


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


def generate_feeds(config: FraudConfig) -> Feeds:
    """Both feeds; the same config gives the same frames, and the base feed ignores the drift settings.

    Each part draws from its own seeded stream, so adding the wallet feed cannot shift the base feed.
    """
    population_rng, base_rng, wallet_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3)
    )
    pop = _population(config, population_rng)
    base = _batch(_base_rows(config, pop, base_rng), config, f"txn-{config.seed}-{{:08d}}", base_rng)
    drifted = _batch(_wallet_rows(config, pop, wallet_rng), config, f"txn-{config.seed}-d{{:07d}}", wallet_rng)
    for name, batch in (("base", base), ("drifted", drifted)):
        fraud = batch.labels[IS_FRAUD].mean() if len(batch.labels) else 0.0
        logger.info("%s feed: %d events (%.2f%% fraud)", name, len(batch.events), 100 * fraud)
    return Feeds(base, drifted)


def generate(config: FraudConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both feeds' events sorted by time, and the labels that have arrived by `config.end` (tests, benches)."""
    return arrived(generate_feeds(config), config.end)
