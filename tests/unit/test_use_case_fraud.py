"""The fraud declaration says exactly what the platform's constants say today (issue 29, step 4).

Until each layer reads the declaration, both exist: these tests keep them equal, so the switch from constants
to the declaration cannot change a column, a view, a threshold or a generated world.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from feature_repo.registry_objects import registry_objects
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings
from pipelines.core.use_case import ViewInputs, load_use_case, validate
from pipelines.data.label_history import label_spans
from pipelines.data.schema import UNTIL
from use_cases.fraud import USE_CASE, schema
from use_cases.fraud import generator as world
from use_cases.fraud import schema as model_input
from use_cases.fraud.features import compute_customer_stats, compute_merchant_stats

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
    keys = {view.name: USE_CASE.key_of(view.name) for view in USE_CASE.views}
    assert keys == {**schema.VIEW_KEYS, schema.CARD_VELOCITY: schema.CUSTOMER_ID}
    for view in USE_CASE.views:
        assert USE_CASE.offline_table_columns(view.name) == schema.offline_table_columns(view.name)
    assert [list(view.event_columns) for view in USE_CASE.views] == [
        [schema.CUSTOMER_ID, schema.MERCHANT_ID, schema.AMOUNT, schema.EVENT_TIMESTAMP],
        [schema.MERCHANT_ID, schema.AMOUNT, schema.EVENT_TIMESTAMP, schema.EVENT_ID],
        [schema.EVENT_ID, schema.EVENT_TIMESTAMP, schema.CUSTOMER_ID, schema.AMOUNT, schema.MERCHANT_ID],
    ]
    assert [view.name for view in USE_CASE.views if view.streamed] == [schema.CARD_VELOCITY]
    assert USE_CASE.feature_columns[-len(schema.CARD_VELOCITY_COLUMNS) :] == schema.CARD_VELOCITY_COLUMNS
    assert USE_CASE.max_ttl == schema.FEATURE_HISTORY
    assert USE_CASE.max_lookback == timedelta(days=30), "chargebacks: the refresh recomputes 30 days back"
    assert USE_CASE.model.feature_default == 0.0, "no history means zero activity"


def test_the_feast_objects_built_from_the_declaration_are_todays() -> None:
    """Names, keys, types, ttl, tags and paths as feature_repo/ defined them by hand, so `features apply` on an
    existing registry changes nothing."""
    from feast import Entity, FeatureView, FileSource
    from feast.types import Float32, Int64

    objects = registry_objects(USE_CASE)
    entities = {item.name: item.join_key for item in objects if isinstance(item, Entity)}
    assert entities == {"customer": schema.CUSTOMER_ID, "merchant": schema.MERCHANT_ID}
    sources = {item.name: item.path for item in objects if isinstance(item, FileSource)}
    assert sources == {f"{view}_source": f"offline/{view}" for view in (*schema.VIEW_FEATURES, schema.CARD_VELOCITY)}
    views = [item for item in objects if isinstance(item, FeatureView) and item.name in schema.VIEW_FEATURES]
    assert [view.name for view in views] == list(schema.VIEW_FEATURES)
    for view in views:
        assert view.ttl == schema.FEATURE_HISTORY and view.tags == {"owner": "driftloop", "use_case": "fraud"}
        assert view.entity_columns[0].name == schema.VIEW_KEYS[view.name]
        expected = [
            (name, Int64 if name in schema.COUNT_FEATURES else Float32) for name in schema.VIEW_FEATURES[view.name]
        ]
        assert [(field.name, field.dtype) for field in view.features] == expected


def test_fraud_streaming_is_fraud_with_its_streamed_views_pushed_through_feast() -> None:
    """Fraud's declaration (hourly views and card velocity) plus merchant velocity, its columns last; each
    streamed view written through its push source over its offline table, sums and gaps as Float64."""
    from feast import FeatureView, PushSource
    from feast.types import Float64, Int64

    from use_cases.fraud.streamed import USE_CASE as STREAMING

    assert STREAMING.name == "fraud_streaming" and STREAMING.views[:3] == USE_CASE.views
    assert STREAMING.feature_refs == schema.STREAMED_FEATURE_REFS
    assert STREAMING.feature_columns == schema.FEATURE_VIEW_COLUMNS + schema.MERCHANT_VELOCITY_COLUMNS
    assert [list(view.event_columns) for view in STREAMING.views[2:]] == [
        [schema.EVENT_ID, schema.EVENT_TIMESTAMP, schema.CUSTOMER_ID, schema.AMOUNT, schema.MERCHANT_ID],
        [schema.EVENT_ID, schema.EVENT_TIMESTAMP, schema.MERCHANT_ID, schema.AMOUNT],
    ]
    for view in STREAMING.views[2:]:
        assert STREAMING.offline_table_columns(view.name) == schema.offline_table_columns(view.name)
    assert STREAMING.generator.demo is not None and STREAMING.generator.demo.burst is not None
    objects = registry_objects(STREAMING)
    pushes = {item.name: item.batch_source.name for item in objects if isinstance(item, PushSource)}
    assert pushes == {f"{view}_push": f"{view}_source" for view in schema.STREAM_VIEW_FEATURES}
    streamed = [item for item in objects if isinstance(item, FeatureView) and item.name in schema.STREAM_VIEW_FEATURES]
    for view in streamed:
        assert view.stream_source is not None and view.stream_source.name == f"{view.name}_push"
        assert view.ttl == schema.FEATURE_HISTORY and view.entity_columns[0].name == schema.STREAM_VIEW_KEYS[view.name]
        expected = [
            (name, Float64 if name in schema.STREAM_FLOAT_FEATURES else Int64)
            for name in schema.STREAM_VIEW_FEATURES[view.name]
        ]
        assert [(field.name, field.dtype) for field in view.features] == expected


def test_names_and_maturity_equal_the_settings_defaults() -> None:
    settings = Settings()
    assert USE_CASE.label.maturity_days == settings.label_maturity_days
    assert USE_CASE.model_name == settings.model_name and USE_CASE.experiment == settings.mlflow_experiment
    assert USE_CASE.feast_project == settings.feast_project


@pytest.fixture(scope="module")
def feeds() -> world.Feeds:
    config = world.FraudConfig(end=END, days=12, size=60, merchants=15, seed=5, drift_start_day=6)
    return world.generate_feeds(config)


def test_the_declared_generator_is_the_fraud_world() -> None:
    assert USE_CASE.generator.config is world.FraudConfig
    assert USE_CASE.generator.generate_feeds is world.generate_feeds


def test_the_declared_views_compute_todays_rows(feeds: world.Feeds) -> None:
    events, labels = feeds.base.events, feeds.base.labels
    assert labels[schema.IS_FRAUD].sum() > 0, "the merchant view must see some fraud"
    records = labels.assign(ingested_at=labels[schema.LABEL_TIMESTAMP])
    spans = records.assign(**{UNTIL: pd.NaT})[[schema.EVENT_ID, schema.IS_FRAUD, schema.LABEL_TIMESTAMP, UNTIL]]
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


def test_settings_defaults_follow_the_selected_use_case(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DRIFTLOOP_USE_CASE", "delivery")
    settings = Settings()
    named = (settings.model_name, settings.mlflow_experiment, settings.feast_project, settings.label_maturity_days)
    assert named == ("delivery-eta", "driftloop-training-delivery", "driftloop_delivery", 1)
    clean_env.setenv("DRIFTLOOP_MODEL_NAME", "eta")
    assert Settings().model_name == "eta", "a setting someone gave wins over the declaration"
    clean_env.setenv("DRIFTLOOP_USE_CASE", "nope")
    with pytest.raises(DriftloopError, match="unknown use case 'nope'"):
        Settings()


def test_generator_knobs_are_typed_by_the_use_cases_config_and_unknown_ones_refused() -> None:
    from pipelines.core.errors import DriftloopError
    from pipelines.data.raw_data import generator_config

    config = generator_config(USE_CASE.generator, {"merchants": "7", "fraud_rate": "0.1"}, end=END, size=20, seed=None)
    assert (config.size, config.merchants, config.fraud_rate, config.seed) == (20, 7, 0.1, 42)  # type: ignore[attr-defined]
    with pytest.raises(
        DriftloopError,
        match=r"unknown generator knob 'zones' \(this use case's knobs: card_testing_rate, fraud_rate, merchants\)",
    ):
        generator_config(USE_CASE.generator, {"zones": "3"}, end=END)
    with pytest.raises(DriftloopError, match="merchants='many' is not of type int"):
        generator_config(USE_CASE.generator, {"merchants": "many"}, end=END)
    with pytest.raises(DriftloopError, match="fraud_rate must be in"):
        generator_config(USE_CASE.generator, {"fraud_rate": "0.9"}, end=END)


def test_a_boolean_knob_reads_its_word_and_refuses_others() -> None:
    from dataclasses import dataclass

    from pipelines.core.errors import DriftloopError
    from pipelines.core.use_case import DataGenerator, GeneratorConfig
    from pipelines.data.raw_data import generator_config

    @dataclass(frozen=True)
    class Weekend(GeneratorConfig):
        weekends_only: bool = False

    generator = DataGenerator(Weekend, USE_CASE.generator.generate_feeds, USE_CASE.generator.demo)
    assert generator_config(generator, {"weekends_only": "false"}, end=END).weekends_only is False  # type: ignore[attr-defined]
    assert generator_config(generator, {"weekends_only": "Yes"}, end=END).weekends_only is True  # type: ignore[attr-defined]
    with pytest.raises(DriftloopError, match="weekends_only='maybe' is not of type bool"):
        generator_config(generator, {"weekends_only": "maybe"}, end=END)
