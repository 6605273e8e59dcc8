"""A seeded generator of card transactions and late fraud labels, with a drift knob.

The fraud is learnable on purpose, and only through the features the platform computes: fraudsters hit a
card in short online bursts at risky merchants with amounts far above the customer's usual, so
`txn_count_1h`, amount vs `amount_mean_7d` and `chargeback_rate_30d` carry the signal. From
`drift_start_day` on, amounts and the channel mix shift and fraud changes its pattern (contactless,
at ordinary merchants, in longer bursts of smaller amounts), so the old model degrades and retraining on
fresh data helps.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.schema import (
    AMOUNT,
    CHANNEL,
    CHANNELS,
    CUSTOMER_ID,
    EVENT_ID,
    EVENT_TIMESTAMP,
    IS_FRAUD,
    LABEL_TIMESTAMP,
    MERCHANT_ID,
)

logger = logging.getLogger(__name__)

HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS
RISKY_MERCHANT_SHARE = 0.1
MAX_AMOUNT = 50_000.0


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. `end` is exclusive: no event or label is stamped at or after it."""

    end: datetime
    seed: int = 42
    days: int = 30
    customers: int = 1000
    merchants: int = 100
    fraud_rate: float = 0.02
    drift_start_day: int | None = None
    drift_strength: float = 1.0

    def __post_init__(self) -> None:
        if self.end.tzinfo is None:
            raise ValueError("end must be timezone-aware (UTC)")
        if self.days < 1 or self.customers < 1 or self.merchants < 2:
            raise ValueError("need days >= 1, customers >= 1 and merchants >= 2")
        if not 0 < self.fraud_rate < 0.5:
            raise ValueError("fraud_rate must be in (0, 0.5)")
        if self.drift_start_day is not None and not 0 <= self.drift_start_day < self.days:
            raise ValueError(f"drift_start_day must be in [0, {self.days})")

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.end) - pd.Timedelta(days=self.days)

    @property
    def drift_start(self) -> pd.Timestamp | None:
        return None if self.drift_start_day is None else self.start + pd.Timedelta(days=self.drift_start_day)


@dataclass(frozen=True)
class _Population:
    amount_scale: np.ndarray  # per customer: typical amount
    daily_rate: np.ndarray  # per customer: transactions per day
    channel_pref: np.ndarray  # per customer: probabilities over CHANNELS
    merchant_weight: np.ndarray  # per merchant: popularity
    risky: np.ndarray  # per merchant: bool


def _population(config: GeneratorConfig, rng: np.random.Generator) -> _Population:
    channel_pref = rng.dirichlet([2.0, 5.0, 3.0], size=config.customers)
    merchant_weight = rng.pareto(1.5, size=config.merchants) + 1.0
    risky = np.zeros(config.merchants, dtype=bool)
    risky[rng.choice(config.merchants, size=max(1, int(config.merchants * RISKY_MERCHANT_SHARE)), replace=False)] = True
    return _Population(
        amount_scale=rng.lognormal(mean=3.6, sigma=0.6, size=config.customers),
        daily_rate=rng.gamma(shape=2.0, scale=1.5, size=config.customers),
        channel_pref=channel_pref,
        merchant_weight=merchant_weight / merchant_weight.sum(),
        risky=risky,
    )


def _drift_mask(config: GeneratorConfig, times: np.ndarray) -> np.ndarray:
    drift_start = config.drift_start
    if drift_start is None:
        return np.zeros(len(times), dtype=bool)
    return times >= drift_start.value


def _legit_events(config: GeneratorConfig, pop: _Population, rng: np.random.Generator) -> pd.DataFrame:
    start_ns = config.start.value
    counts = rng.poisson(pop.daily_rate * config.days)
    customer = np.repeat(np.arange(config.customers), counts)
    times = start_ns + rng.integers(0, config.days * DAY_NS, size=len(customer))
    drifted = _drift_mask(config, times)
    strength = config.drift_strength
    # Drift: more activity (extra events), bigger amounts, a shift towards contactless.
    if drifted.any():
        extra = rng.random(len(customer)) < 0.5 * strength * drifted
        customer = np.concatenate([customer, customer[extra]])
        times = np.concatenate([times, times[extra] + rng.integers(0, HOUR_NS * 6, size=int(extra.sum()))])
        times = np.minimum(times, pd.Timestamp(config.end).value - 1)
        drifted = _drift_mask(config, times)
    amount = pop.amount_scale[customer] * rng.lognormal(0.0, 0.5, size=len(customer))
    amount = amount * np.where(drifted, 1.0 + 0.8 * strength, 1.0)
    prefs = pop.channel_pref[customer]
    drift_pref = np.array([0.2, 0.2, 0.6])
    prefs = np.where(drifted[:, None], (1 - min(strength, 1.0)) * prefs + min(strength, 1.0) * drift_pref, prefs)
    channel = (rng.random(len(customer))[:, None] > np.cumsum(prefs, axis=1)).sum(axis=1)
    merchant = rng.choice(len(pop.merchant_weight), size=len(customer), p=pop.merchant_weight)
    return pd.DataFrame(
        {"t": times, CUSTOMER_ID: customer, MERCHANT_ID: merchant, AMOUNT: amount, "ch": channel, IS_FRAUD: 0}
    )


def _fraud_bursts(config: GeneratorConfig, pop: _Population, legit_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    burst_size_mean = 4.0
    bursts = max(1, int(round(config.fraud_rate * legit_rows / burst_size_mean)))
    victim = rng.integers(0, config.customers, size=bursts)
    burst_start = config.start.value + rng.integers(0, config.days * DAY_NS - HOUR_NS, size=bursts)
    drifted_burst = _drift_mask(config, burst_start)
    size = rng.poisson(burst_size_mean - 2, size=bursts) + 2 + np.where(drifted_burst, 2, 0)
    rows = np.repeat(np.arange(bursts), size)
    drifted = drifted_burst[rows]
    times = burst_start[rows] + rng.integers(0, HOUR_NS, size=len(rows))
    risky_ids = np.flatnonzero(pop.risky)
    merchant = np.where(
        drifted,
        rng.choice(len(pop.merchant_weight), size=len(rows), p=pop.merchant_weight),
        rng.choice(risky_ids, size=len(rows)),
    )
    scale = pop.amount_scale[victim[rows]]
    amount = np.where(
        drifted,
        scale * rng.uniform(0.6, 1.6, size=len(rows)),  # drifted fraud: ordinary-looking amounts
        scale * rng.uniform(3.0, 8.0, size=len(rows)),
    )
    online, contactless = CHANNELS.index("online"), CHANNELS.index("contactless")
    channel = np.where(drifted, contactless, np.where(rng.random(len(rows)) < 0.85, online, contactless))
    return pd.DataFrame(
        {"t": times, CUSTOMER_ID: victim[rows], MERCHANT_ID: merchant, AMOUNT: amount, "ch": channel, IS_FRAUD: 1}
    )


def generate(config: GeneratorConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and the labels that have arrived by `config.end`; the same config gives the same frames."""
    rng = np.random.default_rng(config.seed)
    pop = _population(config, rng)
    legit = _legit_events(config, pop, rng)
    fraud = _fraud_bursts(config, pop, len(legit), rng)
    rows = pd.concat([legit, fraud], ignore_index=True)
    rows = rows.sort_values(["t", CUSTOMER_ID, MERCHANT_ID], kind="stable").reset_index(drop=True)
    # Microsecond precision, as card networks and most parquet writers deliver it.
    rows["t"] = (rows["t"] // 1000) * 1000
    timestamps = pd.to_datetime(rows["t"].to_numpy(), utc=True).as_unit("ns")
    event_ids = pd.array([f"txn-{config.seed}-{i:08d}" for i in range(len(rows))], dtype="string")
    events = pd.DataFrame(
        {
            EVENT_ID: event_ids,
            EVENT_TIMESTAMP: timestamps,
            CUSTOMER_ID: rows[CUSTOMER_ID].astype("int64").to_numpy(),
            MERCHANT_ID: rows[MERCHANT_ID].astype("int64").to_numpy(),
            AMOUNT: np.round(np.clip(rows[AMOUNT].to_numpy(), 0.5, MAX_AMOUNT), 2),
            CHANNEL: pd.array(np.array(CHANNELS)[rows["ch"].to_numpy()], dtype="string"),
        }
    )
    # Labels arrive 1-7 days after the transaction (chargebacks for fraud, settlement for the rest);
    # what has not arrived by `end` is not known yet.
    delay_ns = rng.integers(DAY_NS, 7 * DAY_NS, size=len(rows))
    label_times = pd.to_datetime(rows["t"].to_numpy() + delay_ns, utc=True).as_unit("ns")
    labels = pd.DataFrame(
        {EVENT_ID: event_ids, IS_FRAUD: rows[IS_FRAUD].astype("int64").to_numpy(), LABEL_TIMESTAMP: label_times}
    )
    labels = labels[labels[LABEL_TIMESTAMP] < pd.Timestamp(config.end)].reset_index(drop=True)
    logger.info(
        "generated %d events (%.2f%% fraud) and %d labels over %d days",
        len(events),
        100 * rows[IS_FRAUD].mean(),
        len(labels),
        config.days,
    )
    return events, labels


def write_raw_data(
    events: pd.DataFrame, labels: pd.DataFrame, out_dir: Path, config: GeneratorConfig
) -> dict[str, Path]:
    """Write events, labels and a manifest of the config that made them; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "events": out_dir / "events.parquet",
        "labels": out_dir / "labels.parquet",
        "manifest": out_dir / "manifest.json",
    }
    events.to_parquet(paths["events"], index=False)
    labels.to_parquet(paths["labels"], index=False)
    manifest = {
        **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(config).items()},
        "events": len(events),
        "labels": len(labels),
        "fraud_labels": int(labels[IS_FRAUD].sum()),
    }
    paths["manifest"].write_text(json.dumps(manifest, indent=2) + "\n")
    return paths


def midnight_utc(moment: datetime) -> datetime:
    """The midnight (UTC) at or before `moment`: the default end of generated data."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
