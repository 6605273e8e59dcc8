"""Delivery time: the platform's second use case, a regression, declared through the same contract as fraud.

A food order is scored with its ETA (minutes to the door) when it is placed; its label, the real minutes,
arrives when the courier's app syncs after the handover. The world (`generator`) drifts when it rains and
dark kitchens open; the features (`features`) are a kitchen's and a drop-off zone's recent load and pace.
`DRIFTLOOP_USE_CASE=delivery` selects it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pipelines.core.use_case import (
    DataGenerator,
    DemoPlan,
    Entity,
    Feature,
    FeatureView,
    Field,
    GateThresholds,
    Label,
    MeanShift,
    Metric,
    ModelSpec,
    OnnxSpec,
    Skip,
    UseCase,
)
from pipelines.registry.onnx_model import TARGET_OPSET
from pipelines.training.model_pipeline import BOOSTED_TREE_SPACE
from use_cases.delivery.features import (
    RESTAURANT_EVENT_COLUMNS,
    RESTAURANT_LOAD,
    ZONE_EVENT_COLUMNS,
    ZONE_TRAFFIC,
    compute_restaurant_load,
    compute_zone_traffic,
)
from use_cases.delivery.generator import (
    BASKET_ITEMS,
    DELIVERY_MINUTES,
    DISTANCE_KM,
    MAX_BASKET_ITEMS,
    MAX_DELIVERY_MINUTES,
    MAX_DISTANCE_KM,
    RESTAURANT_ID,
    VEHICLE,
    VEHICLES,
    ZONE_ID,
    DeliveryConfig,
    generate_feeds,
)
from use_cases.delivery.model import FEATURE_DEFAULT, DeliveryParams, build_model, predicted_minutes, realised_mae

if TYPE_CHECKING:
    import numpy as np

# The largest |scikit-learn - onnxruntime| in minutes a version may show on its holdout: the trees sum their
# leaves in float32 (3.3e-5 to 3.6e-5 minutes measured, 200 trees, 3 seeds); a broken export is off by minutes.
# A float64 value between a split threshold and its float32 rounding flipped a split (0.08 minutes seen on random
# float64 inputs) until training snapped the thresholds (pipelines/training/float32_splits.py).
PARITY_TOLERANCE_MINUTES = 1e-3


def _holdout_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    from pipelines.training.evaluate import regression_metrics  # lazy: pulls sklearn

    return regression_metrics(labels, predictions)


def _score(model: Any, frame: Any) -> np.ndarray:
    return predicted_minutes(model, frame)


USE_CASE = UseCase(
    name="delivery",
    description="Food-delivery ETA in minutes, served with features from Feast.",
    model_name="delivery-eta",
    feast_project="driftloop_delivery",
    experiment="driftloop-training-delivery",
    entities=(
        Entity("restaurant", RESTAURANT_ID, "A kitchen taking orders. Features describe its recent load and pace."),
        Entity("zone", ZONE_ID, "A drop-off zone. Features describe its recent traffic and ride times."),
    ),
    fields=(
        Field(
            DISTANCE_KM, "number", "Kitchen to door, in km.", minimum=0.0, open_minimum=True, maximum=MAX_DISTANCE_KM
        ),
        Field(BASKET_ITEMS, "integer", "Items in the order.", minimum=1, maximum=MAX_BASKET_ITEMS),
        Field(VEHICLE, "category", "What the courier rides.", allowed=VEHICLES),
    ),
    label=Label(
        DELIVERY_MINUTES,
        "regression",
        "Minutes from the order to the handover at the door.",
        minimum=0.0,
        maximum=MAX_DELIVERY_MINUTES,
        unit="minutes",
        typical_delay=timedelta(minutes=45),
        maturity_days=1,
    ),
    views=(
        FeatureView(
            RESTAURANT_LOAD,
            "restaurant",
            (
                Feature("orders_1h", "int64", "orders the kitchen took in the hour before"),
                Feature("orders_24h", "int64", "orders in the 24 hours before"),
                Feature("basket_mean_24h", "float32", "mean items per order over 24 hours"),
                Feature("delivery_minutes_mean_7d", "float32", "mean of the delivery minutes known over 7 days"),
            ),
            ttl=timedelta(days=7),
            lookback=timedelta(days=7),
            event_columns=RESTAURANT_EVENT_COLUMNS,
            uses_labels=True,
            compute=compute_restaurant_load,
            description="Rolling per-restaurant load and pace, one row per restaurant per hour with a change.",
        ),
        FeatureView(
            ZONE_TRAFFIC,
            "zone",
            (
                Feature("orders_1h", "int64", "orders to the zone in the hour before"),
                Feature("distance_mean_24h", "float32", "mean distance of its orders over 24 hours"),
                Feature("delivery_minutes_mean_24h", "float32", "mean of the delivery minutes known over 24 hours"),
                Feature("minutes_per_km_24h", "float32", "known minutes per km over 24 hours"),
            ),
            ttl=timedelta(days=7),
            lookback=timedelta(days=1),
            event_columns=ZONE_EVENT_COLUMNS,
            uses_labels=True,
            compute=compute_zone_traffic,
            description="Rolling per-zone traffic and ride times, one row per zone per hour with a change.",
        ),
    ),
    model=ModelSpec(
        params=DeliveryParams,
        build=build_model,
        score=_score,
        pyfunc_predict_fn="predict",
        onnx=OnnxSpec(
            output="variable",
            column=None,
            options={},
            target_opset=TARGET_OPSET,
            parity_tolerance=PARITY_TOLERANCE_MINUTES,
        ),
        score_name="eta_minutes",
        score_buckets=(5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0),
        feature_default=FEATURE_DEFAULT,
        search_space=BOOSTED_TREE_SPACE,
    ),
    metric=Metric(
        primary="mae",
        higher_is_better=False,
        compute=_holdout_metrics,
        realised=realised_mae,
        realised_min_rows=20,
        evidently="regression",
        calibration=Skip("a regression: no probabilities to calibrate (the holdout reports bias instead)"),
    ),
    gate=GateThresholds(
        # MAE is in minutes, so the floor is a sanity bound, not a skill test: rain makes every order slower and
        # less predictable (a constant guess is off by 6.9 minutes on dry days, 25.5 in rain; the demo's v1 by
        # 4.4 on dry days, its retrained v2 by 7.3 on a holdout with rain), and the champion comparison on the
        # same holdout is what decides between models.
        floor=10.0,
        margin=0.0,
        min_holdout_rows=500,
        min_holdout_positives=Skip("a regression target has no positive class"),
        frozen_tolerance=0.5,
        label_guard=MeanShift(max_ratio=1.5),
        realised_alert=12.0,
    ),
    generator=DataGenerator(
        config=DeliveryConfig,
        generate_feeds=generate_feeds,
        demo=DemoPlan(
            size=150,
            drift_start_day=10,
            knobs={"zones": 40},
            traffic_rows=600,
            live_hours=24,  # a whole day per traffic phase: orders follow the time of day (quiet nights)
            drifted_feed="rain",
            v1_primary=(3.0, 6.0),
            # The demo sends 12 hours of the world in seconds, served with the online features of the hour it
            # runs in: the kitchens' and zones' last-hour order counts follow the time of day (quiet mornings, a
            # dinner peak), so healthy traffic flags them (2 of 12 columns at 07:00 UTC), far below the trigger.
            healthy_drift_share_max=0.25,
            drifted_drift_share_min=0.5,
        ),
    ),
    example_request={RESTAURANT_ID: 7, ZONE_ID: 3, DISTANCE_KM: 2.4, BASKET_ITEMS: 3, VEHICLE: "bike"},
)
