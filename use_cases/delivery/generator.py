"""A seeded food-delivery marketplace: orders, and each order's delivery minutes arriving late, in two feeds.

The base feed (the marketplace as it is) is stationary over [start, end). Restaurants take orders from a
Poisson stream with a lunch and a bigger dinner peak (a quarter more at weekends); each order is dropped off
in one of the zones, some far busier than others. A delivery is the kitchen's preparation (its own lognormal
pace, slower with every order it took in the last hour and with every item in the basket), a wait for a
courier, the ride (a distance lognormal around the zone's median, over the speed of the vehicle the
dispatcher picks by distance: bikes for short trips, cars for long ones, in the zone's traffic at that hour,
which slows a car most) and the handover: about 33 minutes on average.

A model sees the request (distance, basket, vehicle) and what the platform computes per restaurant and per
zone on an hourly grid: recent orders, baskets and distances, and the mean of the delivery minutes already
known (a kitchen's pace over 7 days, a zone's minutes and minutes per km over 24 hours). So the minutes are
learnable only in part: the kitchen's queue right now, the traffic at this hour, the wait for a courier and
the kitchen's and the ride's own noise are in no feature, and a feature stamped at an hour boundary lags the
order by up to an hour. A first model (30 days, 150 restaurants, 40 zones) has a holdout MAE of about 4.2-4.5
minutes, 0.6x that of predicting the mean.

From `drift_start_day` a second feed starts, "rain and the dark kitchens". It rains over half the zones (one
of each pair of zones ranked by size, so over busy and quiet zones alike), and a partner opens dark kitchens
(a tenth as many as the restaurants, new ids from `size` up) on the edge of town. Their EXTRA orders (0.8x
the base volume) go into the busiest quarter of the zones, the rainy ones most (people order in when it
rains); they ride farther (x1.8), mostly by car, and a ride into a rainy zone takes 2.5 times as long. Order
counts, distances, the vehicle mix and the label-derived features shift; a model trained before the drift
misses the rain (and takes a dark kitchen's long rides for a slow kitchen): its MAE on the orders after the
drift is about 1.7x that of a model retrained on both feeds. `drift_strength` scales the extra volume, the
distance uplift, the share sent by car whatever the distance, and the slowdown.

The feeds never rewrite each other, so both can land in an append-only event store; each draws from its own
seeded stream, so a seed's base feed is the same whatever the drift settings. That rule forces one
simplification, chosen here: the rain slows only the drifted feed's rides. Read the drifted feed as the
orders the rain brings, cooked in the dark kitchens and carried through the rain by the partner's couriers;
the marketplace's own rides, even in a rainy zone, keep their dry-weather pace.

Labels arrive late, one per order, when the courier's app syncs after the handover: the delivery itself
plus a lognormal sync lag (median 12 minutes, a tail of hours), clipped to [5 minutes, 1 day], about 45
minutes in the median. Minutes are clipped to [1, 240] and rounded to a tenth; times are UTC to the
microsecond, and the city's day runs on UTC.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.core.use_case import Batch, Feeds, GeneratorConfig

logger = logging.getLogger(__name__)

EVENT_ID = "event_id"
EVENT_TIMESTAMP = "event_timestamp"
RESTAURANT_ID = "restaurant_id"
ZONE_ID = "zone_id"  # the drop-off zone
DISTANCE_KM = "distance_km"
BASKET_ITEMS = "basket_items"
VEHICLE = "vehicle"
DELIVERY_MINUTES = "delivery_minutes"
LABEL_TIMESTAMP = "label_timestamp"

VEHICLES = ("bike", "scooter", "car")
BIKE, SCOOTER, CAR = range(len(VEHICLES))
EVENT_COLUMNS: dict[str, str] = {
    EVENT_ID: "string",
    EVENT_TIMESTAMP: "datetime64[ns, UTC]",
    RESTAURANT_ID: "int64",
    ZONE_ID: "int64",
    DISTANCE_KM: "float64",
    BASKET_ITEMS: "int64",
    VEHICLE: "string",
}
LABEL_COLUMNS: dict[str, str] = {
    EVENT_ID: "string",
    DELIVERY_MINUTES: "float64",
    LABEL_TIMESTAMP: "datetime64[ns, UTC]",
}
MIN_DISTANCE_KM, MAX_DISTANCE_KM = 0.1, 50.0
MAX_BASKET_ITEMS = 60
MIN_DELIVERY_MINUTES, MAX_DELIVERY_MINUTES = 1.0, 240.0

MICROSECOND_NS = 1_000
MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
THURSDAY = 3  # 1970-01-01, day 0 of the epoch (Monday = 0)

# Restaurants: how busy, how fast, how big their baskets.
ORDERS_PER_DAY_MEDIAN, ORDERS_PER_DAY_SIGMA = 6.5, 0.6
WEEKEND_BOOST = 1.25
PREP_MEDIAN_MINUTES, PREP_SIGMA, PREP_NOISE = 12.0, 0.3, 0.25
LOAD_SLOPE = 0.06  # each order the kitchen took in the last hour adds 6% to the next one's preparation
BASKET_EXTRA_MEDIAN, BASKET_EXTRA_SIGMA = 1.5, 0.45  # items beyond the first, on average
BASKET_SLOPE = 0.04  # each item beyond the first adds 4% to the preparation
# Zones: how many drop-offs, how far from the kitchens, how jammed.
ZONE_WEIGHT_SIGMA = 0.8
ZONE_DISTANCE_MEDIAN_KM, ZONE_DISTANCE_SIGMA, DISTANCE_SIGMA = 3.0, 0.35, 0.45
CONGESTION_LOW, CONGESTION_HIGH = 0.2, 1.2
# Couriers: the vehicle follows the distance; a bike slips through the traffic a car sits in.
BIKE_BELOW_KM, CAR_ABOVE_KM, VEHICLE_CHOICE_SIGMA = 2.5, 6.0, 0.3
SPEED_KMH = np.array([14.0, 22.0, 28.0])  # bike, scooter, car on an empty road
CONGESTION_SENSITIVITY = np.array([0.3, 0.6, 1.0])
TRAVEL_NOISE = 0.1
COURIER_WAIT_SHAPE, COURIER_WAIT_SCALE_MINUTES = 2.0, 1.5
HANDOVER_MINUTES = 2.0
SYNC_LAG_MEDIAN_MINUTES, SYNC_LAG_SIGMA = 12.0, 1.0
MIN_LABEL_DELAY_NS, MAX_LABEL_DELAY_NS = 5 * MINUTE_NS, DAY_NS
# The drift, per unit of drift_strength where it scales.
DARK_KITCHEN_SHARE = 0.1  # new kitchens, as a share of the restaurants
DARK_VOLUME = 0.8  # their extra orders, as a share of the base orders
DARK_PREP_MEDIAN_MINUTES, DARK_SHARE_SIGMA = 10.0, 0.4
BUSIEST_ZONE_SHARE = 0.25  # they deliver into the busiest quarter of the zones
RAIN_DEMAND = 3.0  # a rainy zone orders 1 + 3 times as much from them as its size says
DISTANCE_UPLIFT = 0.8  # distances x (1 + uplift): the kitchens sit on the edge of town
CAR_SHIFT = 0.4  # a share of their orders go by car whatever the distance
RAIN_SLOWDOWN = 1.5  # travel time x (1 + slowdown) in a rainy zone: flooded streets, couriers at walking pace


@dataclass(frozen=True)
class DeliveryConfig(GeneratorConfig):
    """What to generate over [end - days, end); `end` is exclusive, no order is stamped at or after it.
    `size` is the restaurants; the drop-off zones are this world's own knob."""

    size: int = 150
    zones: int = 40

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.zones < 2:
            raise ValueError("need zones >= 2")


@dataclass(frozen=True)
class _City:
    """The stationary world both feeds share: the restaurants and the zones."""

    daily_orders: np.ndarray  # per restaurant: expected orders on a weekday
    prep_minutes: np.ndarray  # per restaurant: its kitchen's pace when idle, for a single item
    basket_extra: np.ndarray  # per restaurant: mean items beyond the first (a pizzeria's beat a bakery's)
    zone_weight: np.ndarray  # per zone: its share of the drop-offs
    zone_distance_km: np.ndarray  # per zone: median distance from the kitchens
    congestion: np.ndarray  # per zone: how much the rush hours slow it down


@dataclass(frozen=True)
class _Orders:
    """Orders before they become a Batch: times (ns, microsecond precision), request fields and the truth."""

    t: np.ndarray
    restaurant: np.ndarray
    zone: np.ndarray
    distance_km: np.ndarray
    basket_items: np.ndarray
    vehicle: np.ndarray  # index into VEHICLES
    minutes: np.ndarray

    @classmethod
    def empty(cls) -> _Orders:
        ints, floats = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return cls(ints, ints, ints, floats, ints, ints, floats)


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((hour - centre) / width) ** 2)


def _meal_profile() -> np.ndarray:
    """P(hour of day) of an order: quiet nights, a lunch peak and a bigger dinner peak (the city runs on UTC)."""
    hour = np.arange(24) + 0.5
    weight = 0.15 + _bump(hour, 12.5, 1.0) + 1.4 * _bump(hour, 19.5, 1.3)
    weight[hour < 7] = 0.02
    return weight / weight.sum()


MEAL_PROFILE = _meal_profile()


def _rush(hour_of_day: np.ndarray) -> np.ndarray:
    """Traffic by hour of day (0 = an empty road): the morning and evening rush and a lunchtime bump."""
    return _bump(hour_of_day, 8.5, 1.2) + 1.2 * _bump(hour_of_day, 18.0, 1.5) + 0.4 * _bump(hour_of_day, 13.0, 1.0)


def _city(config: DeliveryConfig, rng: np.random.Generator) -> _City:
    size, zones = config.size, config.zones
    return _City(
        daily_orders=rng.lognormal(np.log(ORDERS_PER_DAY_MEDIAN), ORDERS_PER_DAY_SIGMA, size),
        prep_minutes=rng.lognormal(np.log(PREP_MEDIAN_MINUTES), PREP_SIGMA, size),
        basket_extra=rng.lognormal(np.log(BASKET_EXTRA_MEDIAN), BASKET_EXTRA_SIGMA, size),
        zone_weight=_normalised(rng.lognormal(0.0, ZONE_WEIGHT_SIGMA, zones)),
        zone_distance_km=rng.lognormal(np.log(ZONE_DISTANCE_MEDIAN_KM), ZONE_DISTANCE_SIGMA, zones),
        congestion=rng.uniform(CONGESTION_LOW, CONGESTION_HIGH, zones),
    )


def _normalised(weight: np.ndarray) -> np.ndarray:
    return weight / weight.sum()


def _order_times(
    rng: np.random.Generator, daily_orders: np.ndarray, start_ns: int, end_ns: int
) -> tuple[np.ndarray, np.ndarray]:
    """(kitchen index, time) of a Poisson stream per kitchen in [start_ns, end_ns), busier at meals and weekends."""
    first_day = start_ns // DAY_NS
    day_number = first_day + np.arange(-(-end_ns // DAY_NS) - first_day)
    boost = np.where((day_number + THURSDAY) % 7 >= 5, WEEKEND_BOOST, 1.0)
    counts = rng.poisson(np.outer(daily_orders, boost)).ravel()
    kitchen, day = np.divmod(np.repeat(np.arange(counts.size), counts), len(day_number))
    hour = rng.choice(24, size=len(kitchen), p=MEAL_PROFILE)
    t = day_number[day] * DAY_NS + hour * HOUR_NS + rng.integers(0, HOUR_NS, size=len(kitchen))
    t = (t // MICROSECOND_NS) * MICROSECOND_NS  # microseconds, as the ordering app stamps them
    inside = (t >= start_ns) & (t < end_ns)
    return kitchen[inside], t[inside]


def _orders_in_last_hour(kitchen: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per order, the orders its kitchen took in the hour before it (its queue)."""
    if len(t) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((t, kitchen))
    relative = (t[order] - t.min()) // MICROSECOND_NS
    hour = HOUR_NS // MICROSECOND_NS
    key = kitchen[order] * (relative.max() + hour + 1) + relative  # kitchens never overlap, even an hour back
    queue = np.arange(len(key)) - np.searchsorted(key, key - hour, side="left")
    load = np.empty_like(queue)
    load[order] = queue
    return load


def _distances(rng: np.random.Generator, city: _City, zone: np.ndarray, stretch: float) -> np.ndarray:
    distance = city.zone_distance_km[zone] * stretch * rng.lognormal(0.0, DISTANCE_SIGMA, len(zone))
    return np.round(np.clip(distance, MIN_DISTANCE_KM, MAX_DISTANCE_KM), 2)


def _vehicles(rng: np.random.Generator, distance_km: np.ndarray) -> np.ndarray:
    """Bikes for short trips, cars for long ones, scooters between; the dispatcher's judgement blurs the cut."""
    reach = distance_km * rng.lognormal(0.0, VEHICLE_CHOICE_SIGMA, len(distance_km))
    return np.where(reach < BIKE_BELOW_KM, BIKE, np.where(reach > CAR_ABOVE_KM, CAR, SCOOTER)).astype(np.int64)


def _baskets(rng: np.random.Generator, extra_items: np.ndarray) -> np.ndarray:
    return np.clip(1 + rng.poisson(extra_items), 1, MAX_BASKET_ITEMS).astype(np.int64)


def _preparation_minutes(
    rng: np.random.Generator, pace: np.ndarray, load: np.ndarray, basket: np.ndarray
) -> np.ndarray:
    """The kitchen's pace, slower with its queue and with the basket."""
    noise = rng.lognormal(0.0, PREP_NOISE, len(pace))
    return pace * (1 + LOAD_SLOPE * load) * (1 + BASKET_SLOPE * (basket - 1)) * noise


def _travel_minutes(
    rng: np.random.Generator,
    distance_km: np.ndarray,
    vehicle: np.ndarray,
    congestion: np.ndarray,
    t: np.ndarray,
    slowdown: np.ndarray,
) -> np.ndarray:
    """Distance over the vehicle's speed in the zone's traffic at that hour (and in the rain)."""
    hour_of_day = (t % DAY_NS) / HOUR_NS
    traffic = 1 + CONGESTION_SENSITIVITY[vehicle] * congestion * _rush(hour_of_day)
    minutes = 60.0 * distance_km * traffic * slowdown / SPEED_KMH[vehicle]
    return minutes * rng.lognormal(0.0, TRAVEL_NOISE, len(t))


def _delivery_minutes(rng: np.random.Generator, preparation: np.ndarray, travel: np.ndarray) -> np.ndarray:
    """Preparation, waiting for a courier, the ride and the handover, to a tenth of a minute."""
    wait = rng.gamma(COURIER_WAIT_SHAPE, COURIER_WAIT_SCALE_MINUTES, len(travel))
    total = preparation + wait + travel + HANDOVER_MINUTES
    return np.round(np.clip(total, MIN_DELIVERY_MINUTES, MAX_DELIVERY_MINUTES), 1)


def _base_orders(config: DeliveryConfig, city: _City, rng: np.random.Generator) -> _Orders:
    """The marketplace as it is: its restaurants, drop-offs by zone size, dry roads."""
    restaurant, t = _order_times(rng, city.daily_orders, config.start.value, pd.Timestamp(config.end).value)
    zone = rng.choice(config.zones, size=len(t), p=city.zone_weight)
    distance = _distances(rng, city, zone, 1.0)
    vehicle = _vehicles(rng, distance)
    basket = _baskets(rng, city.basket_extra[restaurant])
    preparation = _preparation_minutes(rng, city.prep_minutes[restaurant], _orders_in_last_hour(restaurant, t), basket)
    travel = _travel_minutes(rng, distance, vehicle, city.congestion[zone], t, np.ones(len(t)))
    return _Orders(t, restaurant, zone, distance, basket, vehicle, _delivery_minutes(rng, preparation, travel))


def _rainy_zones(city: _City, rng: np.random.Generator) -> np.ndarray:
    """Half the zones, one of each pair of zones ranked by size: the rain falls on busy and quiet zones alike."""
    ranked = np.argsort(-city.zone_weight, kind="stable")
    pairs = ranked[: 2 * (len(ranked) // 2)].reshape(-1, 2)
    rainy = np.zeros(len(ranked), dtype=bool)
    rainy[pairs[np.arange(len(pairs)), rng.integers(0, 2, len(pairs))]] = True
    return rainy


def _dark_kitchen_orders(config: DeliveryConfig, city: _City, rng: np.random.Generator) -> _Orders:
    """The partner's dark kitchens from drift start: far from their busy zones, by car, through the rain."""
    strength = config.drift_strength
    if config.drift_start is None or strength == 0:
        return _Orders.empty()
    kitchens = max(1, round(DARK_KITCHEN_SHARE * config.size))
    rainy = _rainy_zones(city, rng)
    pace = rng.lognormal(np.log(DARK_PREP_MEDIAN_MINUTES), PREP_SIGMA, kitchens)
    basket_extra = rng.lognormal(np.log(BASKET_EXTRA_MEDIAN), BASKET_EXTRA_SIGMA, kitchens)
    share = _normalised(rng.lognormal(0.0, DARK_SHARE_SIGMA, kitchens))
    daily = DARK_VOLUME * strength * city.daily_orders.sum() * share
    kitchen, t = _order_times(rng, daily, config.drift_start.value, pd.Timestamp(config.end).value)
    busiest = np.argsort(-city.zone_weight, kind="stable")[: max(1, round(BUSIEST_ZONE_SHARE * config.zones))]
    demand = city.zone_weight[busiest] * (1 + RAIN_DEMAND * rainy[busiest])
    zone = busiest[rng.choice(len(busiest), size=len(t), p=_normalised(demand))]
    distance = _distances(rng, city, zone, 1 + DISTANCE_UPLIFT * strength)
    vehicle = np.where(rng.random(len(t)) < min(1.0, CAR_SHIFT * strength), CAR, _vehicles(rng, distance))
    basket = _baskets(rng, basket_extra[kitchen])
    preparation = _preparation_minutes(rng, pace[kitchen], _orders_in_last_hour(kitchen, t), basket)
    slowdown = np.where(rainy[zone], 1 + RAIN_SLOWDOWN * strength, 1.0)
    travel = _travel_minutes(rng, distance, vehicle, city.congestion[zone], t, slowdown)
    restaurant = config.size + kitchen  # new ids above the marketplace's own
    return _Orders(t, restaurant, zone, distance, basket, vehicle, _delivery_minutes(rng, preparation, travel))


def _batch(orders: _Orders, id_format: str, rng: np.random.Generator) -> Batch:
    """The orders sorted by time with ids `id_format.format(i)`, and one late label each."""
    order = np.lexsort((orders.zone, orders.restaurant, orders.t))
    t, minutes = orders.t[order], orders.minutes[order]
    event_ids = pd.array([id_format.format(i) for i in range(len(t))], dtype="string")
    events = pd.DataFrame(
        {
            EVENT_ID: event_ids,
            EVENT_TIMESTAMP: pd.to_datetime(t, utc=True).as_unit("ns"),
            RESTAURANT_ID: orders.restaurant[order].astype(np.int64),
            ZONE_ID: orders.zone[order].astype(np.int64),
            DISTANCE_KM: orders.distance_km[order].astype(np.float64),
            BASKET_ITEMS: orders.basket_items[order].astype(np.int64),
            VEHICLE: pd.array(np.array(VEHICLES, dtype=object)[orders.vehicle[order]], dtype="string"),
        }
    )
    # The label lands when the courier's app syncs after the handover: usually minutes, now and then hours.
    sync_lag = rng.lognormal(np.log(SYNC_LAG_MEDIAN_MINUTES), SYNC_LAG_SIGMA, len(t))
    delay_ns = np.clip((minutes + sync_lag) * MINUTE_NS, MIN_LABEL_DELAY_NS, MAX_LABEL_DELAY_NS).astype(np.int64)
    label_t = ((t + delay_ns) // MICROSECOND_NS) * MICROSECOND_NS
    labels = pd.DataFrame(
        {
            EVENT_ID: event_ids,
            DELIVERY_MINUTES: minutes.astype(np.float64),
            LABEL_TIMESTAMP: pd.to_datetime(label_t, utc=True).as_unit("ns"),
        }
    )
    return Batch(events.astype(EVENT_COLUMNS), labels.astype(LABEL_COLUMNS))


def generate_feeds(config: DeliveryConfig) -> Feeds:
    """Both feeds; the same config gives the same frames, and the base feed ignores the drift settings.

    The city, the base feed and the drifted feed each draw from their own seeded stream, so adding the dark
    kitchens cannot shift the base feed.
    """
    city_rng, base_rng, drift_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3))
    city = _city(config, city_rng)
    base = _batch(_base_orders(config, city, base_rng), f"ord-{config.seed}-{{:08d}}", base_rng)
    drifted = _batch(_dark_kitchen_orders(config, city, drift_rng), f"ord-{config.seed}-d{{:07d}}", drift_rng)
    for name, batch in (("base", base), ("drifted", drifted)):
        mean = batch.labels[DELIVERY_MINUTES].mean() if len(batch.labels) else float("nan")
        logger.info("%s feed: %d orders (%.1f delivery minutes on average)", name, len(batch.events), mean)
    return Feeds(base, drifted)
