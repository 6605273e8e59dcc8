"""The fraud declaration says exactly what the platform's constants say today (issue 29, step 4).

Until each layer reads the declaration, both exist: these tests keep them equal, so the switch from constants
to the declaration cannot change a column, a view, a threshold or a generated world.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from feature_repo.registry_objects import registry_objects
from pipelines.core.settings import Settings
from pipelines.core.use_case import ViewInputs, load_use_case, validate
from pipelines.data import generator as world
from pipelines.data import schema
from pipelines.data.label_history import label_spans
from pipelines.features import model_input
from pipelines.features.engineering import compute_customer_stats, compute_merchant_stats
from pipelines.features.partitions import VIEW_EVENT_COLUMNS
from pipelines.features.refresh import LOOKBACK
from use_cases.fraud import USE_CASE, FraudConfig

END = datetime(2026, 11, 1, tzinfo=UTC)


def test_it_is_valid_installed_and_the_default() -> None:
    assert validate(USE_CASE) == []
    assert load_use_case("fraud") is USE_CASE
    assert load_use_case("use_cases.fraud:USE_CASE") is USE_CASE
    assert Settings().use_case == "fraud"


def test_columns_views_and_model_input_equal_todays_in_their_order() -> None:
    assert list(USE_CASE.event_columns.items()) == list(schema.EVENT_COLUMNS.items())
    assert list(USE_CASE.label_columns.items()) == list(schema.LABEL_COLUMNS.items())
    assert USE_CASE.feature_refs == schema.FEATURE_REFS
    assert USE_CASE.feature_columns == model_input.FEATURE_VIEW_COLUMNS
    assert USE_CASE.model_input.numeric == model_input.NUMERIC_COLUMNS
    assert USE_CASE.model_input.categorical == model_input.CATEGORICAL_COLUMNS
    assert dict(USE_CASE.model_input.categories) == model_input.CATEGORIES
    assert USE_CASE.model_input.columns == model_input.MODEL_INPUT_COLUMNS
    assert {view.name: USE_CASE.key_of(view.name) for view in USE_CASE.views} == schema.VIEW_KEYS
    for view in USE_CASE.views:
        assert USE_CASE.offline_table_columns(view.name) == schema.offline_table_columns(view.name)
        assert list(view.event_columns) == VIEW_EVENT_COLUMNS[view.name]
    assert USE_CASE.max_ttl == schema.FEATURE_HISTORY
    assert USE_CASE.max_lookback + timedelta(hours=2) == LOOKBACK
    assert USE_CASE.model.feature_default == model_input.FEATURE_DEFAULT


def test_the_feast_objects_registered_today_are_the_declared_ones() -> None:
    objects = {type(item).__name__: [] for item in registry_objects()}
    for item in registry_objects():
        objects[type(item).__name__].append(item)
    assert {(e.name, e.join_key) for e in objects["Entity"]} == {(e.name, e.key) for e in USE_CASE.entities}
    declared = {view.name: view for view in USE_CASE.views}
    for view in objects["FeatureView"]:
        assert view.ttl == declared[view.name].ttl
        assert [f.name for f in view.features] == [f.name for f in declared[view.name].features]
        assert [e for e in view.entities] == [declared[view.name].entity]


def test_gate_thresholds_equal_the_settings_defaults() -> None:
    settings, gate = Settings(), USE_CASE.gate
    assert gate.floor == settings.gate_min_roc_auc and gate.margin == settings.gate_margin
    assert gate.min_holdout_rows == settings.gate_min_holdout_rows
    assert gate.min_holdout_positives == settings.gate_min_holdout_positives
    assert gate.frozen_tolerance == settings.gate_frozen_tolerance
    assert gate.label_guard.max_ratio == settings.gate_max_label_rate_ratio  # type: ignore[union-attr]
    assert USE_CASE.label.maturity_days == settings.label_maturity_days
    assert USE_CASE.model_name == settings.model_name and USE_CASE.experiment == settings.mlflow_experiment
    assert USE_CASE.feast_project == settings.feast_project


@pytest.fixture(scope="module")
def feeds() -> world.Feeds:
    config = world.GeneratorConfig(end=END, days=12, customers=60, merchants=15, seed=5, drift_start_day=6)
    return world.generate_feeds(config)


def test_the_declared_generator_makes_todays_world(feeds: world.Feeds) -> None:
    declared = USE_CASE.generator.generate_feeds(
        FraudConfig(end=END, days=12, size=60, merchants=15, seed=5, drift_start_day=6)
    )
    for ours, today in ((declared.base, feeds.base), (declared.drifted, feeds.drifted)):
        pd.testing.assert_frame_equal(ours.events, today.events)
        pd.testing.assert_frame_equal(ours.labels, today.labels)


def test_the_declared_views_compute_todays_rows(feeds: world.Feeds) -> None:
    events, labels = feeds.base.events, feeds.base.labels
    assert labels[schema.IS_FRAUD].sum() > 0, "the merchant view must see some fraud"
    records = labels.assign(ingested_at=labels[schema.LABEL_TIMESTAMP])
    spans = records.assign(**{schema.UNTIL: pd.NaT})[
        [schema.EVENT_ID, schema.IS_FRAUD, schema.LABEL_TIMESTAMP, schema.UNTIL]
    ]
    start, computed_at = END - timedelta(days=3), END
    customer, merchant = (USE_CASE.view_of(name) for name in (schema.CUSTOMER_STATS, schema.MERCHANT_STATS))
    columns = list(customer.event_columns)
    pd.testing.assert_frame_equal(
        customer.compute(ViewInputs(events[columns], None, start, END, computed_at)),
        compute_customer_stats(events[columns], start, END, computed_at),
    )
    columns = list(merchant.event_columns)
    pd.testing.assert_frame_equal(
        merchant.compute(ViewInputs(events[columns], spans, start, END, computed_at)),
        compute_merchant_stats(events[columns], label_spans(records, schema.IS_FRAUD), start, END, computed_at),
    )


def test_a_use_case_the_layers_cannot_run_yet_is_refused_by_name(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DRIFTLOOP_USE_CASE", "delivery")
    with pytest.raises(ValueError, match="runs only fraud end to end so far, not 'delivery'"):
        Settings()
