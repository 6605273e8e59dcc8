"""The use-case contract: a small synthetic shop declared here, every value the platform derives from it, every
rule `validate` enforces, the fingerprint, loading by name, and an import that stays free of pandas."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from pipelines.core import use_case as contract
from pipelines.core.use_case import (
    PLATFORM_COLUMNS,
    USE_CASE_GROUP,
    DataGenerator,
    DemoPlan,
    Entity,
    Feature,
    FeatureView,
    Feeds,
    Field,
    GateThresholds,
    GeneratorConfig,
    Label,
    MeanShift,
    Metric,
    ModelInput,
    ModelSpec,
    OnnxSpec,
    RateShift,
    Skip,
    UseCase,
    UseCaseError,
    ViewInputs,
    known_use_cases,
    load_use_case,
    use_case_module,
    validate,
)

TIMESTAMP = "datetime64[ns, UTC]"


@dataclass(frozen=True)
class ShopParams:
    depth: int = 3


@dataclass(frozen=True)
class ShopConfig(GeneratorConfig):
    stores: int = 20


def no_rows(inputs: ViewInputs) -> Any:
    raise NotImplementedError("nothing computes features in these tests")


def no_feeds(config: ShopConfig) -> Feeds:
    raise NotImplementedError("nothing generates data in these tests")


def shop() -> UseCase:
    """A shop predicting which accounts churn: two entities, two fields, two views."""
    return UseCase(
        name="shop",
        description="Which accounts stop buying.",
        model_name="shop-churn",
        feast_project="shop",
        experiment="shop-training",
        entities=(
            Entity("account", "account_id", "A shopper's account."),
            Entity("store", "store_id", "A store of the chain."),
        ),
        fields=(
            Field("spend", "number", "What the visit spent.", minimum=0, open_minimum=True, maximum=1000),
            Field("device", "category", "Where the visit came from.", allowed=("web", "app")),
        ),
        label=Label("churned", "binary", "The account stopped buying.", positive="churned"),
        views=(
            FeatureView(
                name="account_activity",
                entity="account",
                features=(
                    Feature("visits_7d", "int64", "Visits in the last 7 days."),
                    Feature("spend_mean_7d", "float32", "Mean spend of the last 7 days."),
                ),
                ttl=timedelta(days=7),
                lookback=timedelta(days=7),
                event_columns=("account_id", "event_timestamp", "spend"),
                uses_labels=False,
                compute=no_rows,
                description="An account's recent visits.",
            ),
            FeatureView(
                name="store_activity",
                entity="store",
                features=(Feature("churn_rate_30d", "float32", "Share of the store's accounts that churned."),),
                ttl=timedelta(days=2),
                lookback=timedelta(days=30),
                event_columns=("store_id", "event_timestamp"),
                uses_labels=True,
                compute=no_rows,
                description="A store's churn.",
            ),
        ),
        model=ModelSpec(
            params=ShopParams,
            build=lambda params, seed, model_input: None,
            score=lambda model, frame: model.predict_proba(frame)[:, 1],
            pyfunc_predict_fn="predict_proba",
            onnx=OnnxSpec("probabilities", 1, {"zipmap": False}, {"": 18, "ai.onnx.ml": 3}, 1e-5),
            score_name="churn_score",
            score_buckets=(0.1, 0.5, 0.9),
        ),
        metric=Metric(
            primary="roc_auc",
            higher_is_better=True,
            compute=lambda labels, scores: {},
            realised=lambda labels, scores: None,
            realised_min_rows=50,
            evidently="binary",
            calibration=True,
        ),
        gate=GateThresholds(
            floor=0.7,
            margin=0.01,
            min_holdout_rows=200,
            min_holdout_positives=10,
            frozen_tolerance=0.05,
            label_guard=RateShift(3.0),
            realised_alert=0.65,
        ),
        generator=DataGenerator(
            config=ShopConfig,
            generate_feeds=no_feeds,
            demo=DemoPlan(
                size=100,
                drift_start_day=10,
                knobs={"stores": 5},
                traffic_rows=300,
                live_hours=12,
                drifted_feed="app relaunch",
                v1_primary=(0.8, 0.95),
                healthy_drift_share_max=0.1,
                drifted_drift_share_min=0.5,
            ),
        ),
        example_request={"account_id": 7, "store_id": 3, "spend": 42.5, "device": "app"},
    )


def with_field(use_case: UseCase, which: str, /, **changes: Any) -> UseCase:
    fields = tuple(replace(field, **changes) if field.name == which else field for field in use_case.fields)
    return replace(use_case, fields=fields)


def with_view(use_case: UseCase, which: str, /, **changes: Any) -> UseCase:
    views = tuple(replace(view, **changes) if view.name == which else view for view in use_case.views)
    return replace(use_case, views=views)


def with_feature(use_case: UseCase, view: str, which: str, /, **changes: Any) -> UseCase:
    features = tuple(
        replace(feature, **changes) if feature.name == which else feature for feature in use_case.view_of(view).features
    )
    return with_view(use_case, view, features=features)


def with_request(use_case: UseCase, **changes: Any) -> UseCase:
    return replace(use_case, example_request={**use_case.example_request, **changes})


def as_regression(use_case: UseCase) -> UseCase:
    """The shop predicting days to churn instead: every kind-dependent part changed together."""
    return replace(
        use_case,
        label=Label("days_left", "regression", "Days until the account stops buying.", minimum=0, maximum=365),
        model=replace(use_case.model, onnx=replace(use_case.model.onnx, output="variable", column=None, options={})),
        metric=replace(
            use_case.metric, primary="mae", higher_is_better=False, evidently="regression", calibration=Skip("")
        ),
        gate=replace(use_case.gate, min_holdout_positives=Skip("no positive class"), label_guard=MeanShift(1.5)),
    )


# --- derived values -------------------------------------------------------------------------------------------


def test_the_shop_is_valid() -> None:
    assert validate(shop()) == []
    assert validate(as_regression(shop())) == []


def test_entity_keys_and_identity_columns() -> None:
    use_case = shop()
    assert use_case.entity_keys == ("account_id", "store_id")
    assert use_case.identity_columns == ("account_id", "store_id", "spend", "device")


def test_event_columns_in_order_with_their_dtypes() -> None:
    assert list(shop().event_columns.items()) == [
        ("event_id", "string"),
        ("event_timestamp", TIMESTAMP),
        ("account_id", "int64"),
        ("store_id", "int64"),
        ("spend", "float64"),
        ("device", "string"),
    ]


def test_an_integer_field_is_stored_as_int64() -> None:
    use_case = with_field(shop(), "spend", kind="integer")
    assert use_case.event_columns["spend"] == "int64"


def test_label_columns_follow_the_label_kind() -> None:
    assert list(shop().label_columns.items()) == [
        ("event_id", "string"),
        ("churned", "int64"),
        ("label_timestamp", TIMESTAMP),
    ]
    assert list(as_regression(shop()).label_columns.items()) == [
        ("event_id", "string"),
        ("days_left", "float64"),
        ("label_timestamp", TIMESTAMP),
    ]


def test_derived_mappings_are_read_only_and_computed_once() -> None:
    use_case = shop()
    assert use_case.event_columns is use_case.event_columns
    with pytest.raises(TypeError):
        use_case.event_columns["extra"] = "string"  # type: ignore[index]


def test_feature_refs_and_columns_in_declaration_order() -> None:
    use_case = shop()
    assert use_case.feature_refs == (
        "account_activity:visits_7d",
        "account_activity:spend_mean_7d",
        "store_activity:churn_rate_30d",
    )
    assert use_case.feature_columns == (
        "account_activity__visits_7d",
        "account_activity__spend_mean_7d",
        "store_activity__churn_rate_30d",
    )


def test_model_input_numeric_fields_then_features_then_categories() -> None:
    features = ("account_activity__visits_7d", "account_activity__spend_mean_7d", "store_activity__churn_rate_30d")
    model_input = shop().model_input
    assert model_input == ModelInput(
        numeric=("spend", *features),
        categorical=("device",),
        categories={"device": ("web", "app")},
        feature_columns=features,
    )
    assert model_input.columns == ("spend", *features, "device")


def test_lookups_by_name() -> None:
    use_case = shop()
    assert use_case.view_of("store_activity").lookback == timedelta(days=30)
    assert use_case.entity_of("store").key == "store_id"
    assert use_case.key_of("account_activity") == "account_id"
    assert use_case.key_of("store_activity") == "store_id"
    with pytest.raises(KeyError, match="basket"):
        use_case.view_of("basket")
    with pytest.raises(KeyError, match="basket"):
        use_case.entity_of("basket")


def test_entity_of_column_names_a_feature_columns_entity_and_none_for_fields() -> None:
    use_case = shop()
    assert use_case.entity_of_column("account_activity__spend_mean_7d") == use_case.entity_of("account")
    assert use_case.entity_of_column("store_activity__churn_rate_30d") == use_case.entity_of("store")
    assert use_case.entity_of_column("spend") is None
    assert use_case.entity_of_column("device") is None
    with pytest.raises(KeyError, match="basket"):
        use_case.entity_of_column("basket")


def test_offline_table_columns() -> None:
    use_case = shop()
    assert list(use_case.offline_table_columns("account_activity").items()) == [
        ("account_id", "int64"),
        ("event_timestamp", TIMESTAMP),
        ("visits_7d", "int64"),
        ("spend_mean_7d", "float32"),
        ("created_timestamp", TIMESTAMP),
    ]
    assert list(use_case.offline_table_columns("store_activity").items()) == [
        ("store_id", "int64"),
        ("event_timestamp", TIMESTAMP),
        ("churn_rate_30d", "float32"),
        ("created_timestamp", TIMESTAMP),
    ]


def test_longest_ttl_and_lookback_across_views() -> None:
    use_case = shop()
    assert use_case.max_ttl == timedelta(days=7)
    assert use_case.max_lookback == timedelta(days=30)


def test_request_fields_are_the_entity_keys_then_the_fields() -> None:
    use_case = shop()
    assert use_case.request_fields == (
        Field("account_id", "integer", "A shopper's account.", minimum=0),
        Field("store_id", "integer", "A store of the chain.", minimum=0),
        *use_case.fields,
    )


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("spend", 1000, None),
        ("spend", 0.01, None),
        ("spend", 0, "must be in (0, 1000]"),
        ("spend", 1000.5, "must be in (0, 1000]"),
        ("spend", float("nan"), "must be a finite number"),
        ("spend", True, "expected a number, got bool"),
        ("spend", "12", "expected a number, got str"),
        ("device", "web", None),
        ("device", "kiosk", "must be one of ['web', 'app']"),
        ("device", 1, "expected a string, got int"),
        ("account_id", 0, None),
        ("account_id", 10**30, None),
        ("account_id", -1, "must be in [0, inf]"),
        ("account_id", 2.0, "expected an integer, got float"),
    ],
)
def test_one_rule_says_what_a_field_admits(name: str, value: object, problem: str | None) -> None:
    field = next(field for field in shop().request_fields if field.name == name)
    assert field.problem_with(value) == problem


def test_a_use_case_config_keeps_the_common_knobs() -> None:
    config = ShopConfig(end=datetime(2025, 1, 1, tzinfo=UTC))
    assert (config.seed, config.days, config.size, config.drift_start_day, config.drift_strength) == (
        42,
        30,
        1000,
        None,
        1.0,
    )
    assert config.stores == 20


# --- fingerprint ----------------------------------------------------------------------------------------------


def test_the_fingerprint_is_a_stable_sha256() -> None:
    assert shop().fingerprint == shop().fingerprint
    assert len(shop().fingerprint) == 64
    int(shop().fingerprint, 16)


IDENTITY_CHANGES: dict[str, Callable[[UseCase], UseCase]] = {
    "entity key": lambda u: replace(u, entities=(replace(u.entities[0], key="account_no"), u.entities[1])),
    "field name": lambda u: with_field(u, "spend", name="basket_value"),
    "field kind": lambda u: with_field(u, "spend", kind="integer"),
    "field maximum": lambda u: with_field(u, "spend", maximum=2000),
    "field minimum openness": lambda u: with_field(u, "spend", open_minimum=False),
    "allowed values": lambda u: with_field(u, "device", allowed=("web", "app", "kiosk")),
    "allowed order": lambda u: with_field(u, "device", allowed=("app", "web")),
    "field order": lambda u: replace(u, fields=u.fields[::-1]),
    "feature dtype": lambda u: with_feature(u, "account_activity", "visits_7d", dtype="float32"),
    "feature name": lambda u: with_feature(u, "account_activity", "visits_7d", name="visits_14d"),
    "view ttl": lambda u: with_view(u, "account_activity", ttl=timedelta(days=8)),
    "view lookback": lambda u: with_view(u, "store_activity", lookback=timedelta(days=31)),
    "label name": lambda u: replace(u, label=replace(u.label, name="lapsed")),
    "label kind": as_regression,
    "metric primary": lambda u: replace(u, metric=replace(u.metric, primary="pr_auc")),
    "metric direction": lambda u: replace(u, metric=replace(u.metric, higher_is_better=False)),
    "gate floor": lambda u: replace(u, gate=replace(u.gate, floor=0.75)),
    "gate margin": lambda u: replace(u, gate=replace(u.gate, margin=0.02)),
    "gate positives": lambda u: replace(u, gate=replace(u.gate, min_holdout_positives=11)),
    "gate label guard": lambda u: replace(u, gate=replace(u.gate, label_guard=RateShift(2.0))),
    "evidence metric": lambda u: replace(u, metric=replace(u.metric, evidence="precision_at_budget", alert_budget=5)),
    "value field": lambda u: replace(u, metric=replace(u.metric, value_field="spend")),
    "gate realised alert": lambda u: replace(u, gate=replace(u.gate, realised_alert=0.6)),
}


@pytest.mark.parametrize("change", IDENTITY_CHANGES.values(), ids=IDENTITY_CHANGES.keys())
def test_the_fingerprint_changes_with_what_makes_data_and_models_comparable(
    change: Callable[[UseCase], UseCase],
) -> None:
    assert change(shop()).fingerprint != shop().fingerprint


WORDING_CHANGES: dict[str, Callable[[UseCase], UseCase]] = {
    "use case description": lambda u: replace(u, description="Who leaves."),
    "entity description": lambda u: replace(u, entities=(replace(u.entities[0], description="x"), u.entities[1])),
    "field description": lambda u: with_field(u, "spend", description="Money."),
    "label description": lambda u: replace(u, label=replace(u.label, description="Gone.")),
    "view description": lambda u: with_view(u, "store_activity", description="x"),
    "feature description": lambda u: with_feature(u, "store_activity", "churn_rate_30d", description="x"),
}


@pytest.mark.parametrize("change", WORDING_CHANGES.values(), ids=WORDING_CHANGES.keys())
def test_the_fingerprint_ignores_descriptions(change: Callable[[UseCase], UseCase]) -> None:
    assert change(shop()).fingerprint == shop().fingerprint


def test_the_fingerprint_ignores_why_a_part_is_skipped() -> None:
    regression = as_regression(shop())
    reworded = replace(regression, gate=replace(regression.gate, min_holdout_positives=Skip("other words")))
    assert reworded.fingerprint == regression.fingerprint


# --- validate -------------------------------------------------------------------------------------------------

INVALID: dict[str, tuple[Callable[[UseCase], UseCase], str]] = {
    "no entity": (lambda u: replace(u, entities=()), "no entity"),
    "no view": (lambda u: replace(u, views=()), "no feature view"),
    "entity twice": (lambda u: replace(u, entities=(*u.entities, replace(u.entities[0], key="owner_id"))), "'account'"),
    "key reused by a field": (lambda u: with_field(u, "spend", name="store_id"), "'store_id' is declared twice"),
    "field twice": (
        lambda u: with_field(u, "device", name="spend", kind="number", allowed=()),
        "'spend' is declared twice",
    ),
    "label named like a field": (
        lambda u: replace(u, label=replace(u.label, name="device")),
        "'device' is declared twice",
    ),
    "view named like a field": (lambda u: with_view(u, "store_activity", name="spend"), "'spend' is declared twice"),
    "key is a platform column": (
        lambda u: replace(u, entities=(replace(u.entities[0], key="request_id"), u.entities[1])),
        "'request_id', a column the platform writes",
    ),
    "field is a platform column": (
        lambda u: with_field(u, "spend", name="prediction"),
        "'prediction', a column the platform writes",
    ),
    "label is a platform column": (
        lambda u: replace(u, label=replace(u.label, name="until")),
        "'until', a column the platform writes",
    ),
    "view is a platform column": (
        lambda u: with_view(u, "store_activity", name="role"),
        "'role', a column the platform writes",
    ),
    "feature is a platform column": (
        lambda u: with_feature(u, "account_activity", "visits_7d", name="created_timestamp"),
        "'created_timestamp'",
    ),
    "feature twice in a view": (
        lambda u: with_feature(u, "account_activity", "spend_mean_7d", name="visits_7d"),
        "'visits_7d'",
    ),
    "feature named like its key": (
        lambda u: with_feature(u, "account_activity", "visits_7d", name="account_id"),
        "'account_id'",
    ),
    "view without features": (
        lambda u: with_view(u, "store_activity", features=()),
        "'store_activity' declares no feature",
    ),
    "view of an unknown entity": (lambda u: with_view(u, "store_activity", entity="warehouse"), "'warehouse'"),
    "view reads an unknown column": (
        lambda u: with_view(u, "account_activity", event_columns=("account_id", "basket")),
        "'basket'",
    ),
    "evidently disagrees with the label": (
        lambda u: replace(u, metric=replace(u.metric, evidently="regression")),
        "metric.evidently",
    ),
    "binary label without an onnx column": (
        lambda u: replace(u, model=replace(u.model, onnx=replace(u.model.onnx, column=None))),
        "model.onnx.column",
    ),
    "regression label with an onnx column": (
        lambda u: replace(as_regression(u), model=replace(u.model, onnx=replace(u.model.onnx, column=1))),
        "model.onnx.column",
    ),
    "regression label counting positives": (
        lambda u: replace(as_regression(u), gate=replace(as_regression(u).gate, min_holdout_positives=10)),
        "gate.min_holdout_positives",
    ),
    "binary label skipping positives": (
        lambda u: replace(u, gate=replace(u.gate, min_holdout_positives=Skip("none"))),
        "gate.min_holdout_positives",
    ),
    "regression label guarded by a rate": (
        lambda u: replace(as_regression(u), gate=replace(as_regression(u).gate, label_guard=RateShift(3.0))),
        "RateShift",
    ),
    "binary label guarded by a mean": (
        lambda u: replace(u, gate=replace(u.gate, label_guard=MeanShift(1.5))),
        "MeanShift",
    ),
    "regression label calibrated": (
        lambda u: replace(as_regression(u), metric=replace(as_regression(u).metric, calibration=True)),
        "metric.calibration",
    ),
    "evidence metric of another kind": (
        lambda u: replace(u, metric=replace(u.metric, evidence="mae")),
        "metric.evidence",
    ),
    "budget on a regression": (
        lambda u: replace(as_regression(u), metric=replace(as_regression(u).metric, alert_budget=20)),
        "metric.alert_budget must be a Skip",
    ),
    "budget of no alerts": (lambda u: replace(u, metric=replace(u.metric, alert_budget=0)), "(>= 1), not 0"),
    "precision at no budget": (
        lambda u: replace(u, metric=replace(u.metric, evidence="precision_at_budget")),
        "metric.alert_budget must be a count",
    ),
    "value field not a number": (
        lambda u: replace(u, metric=replace(u.metric, value_field="device")),
        "'device' must name a number field",
    ),
    "category without values": (lambda u: with_field(u, "device", allowed=()), "'device' allows no value"),
    "category value twice": (lambda u: with_field(u, "device", allowed=("web", "app", "web")), "allows 'web' 2 times"),
    "category with bounds": (lambda u: with_field(u, "device", maximum=3), "'device' has a minimum or maximum"),
    "number with allowed values": (lambda u: with_field(u, "spend", allowed=("1",)), "'spend' lists allowed values"),
    "minimum above maximum": (lambda u: with_field(u, "spend", minimum=10, maximum=5), "'spend' has an empty range"),
    "open minimum equal to maximum": (
        lambda u: with_field(u, "spend", minimum=5, maximum=5),
        "'spend' has an empty range",
    ),
    "label minimum above maximum": (
        lambda u: replace(as_regression(u), label=replace(as_regression(u).label, minimum=400)),
        "'days_left' has an empty range",
    ),
    "request lacks a key": (
        lambda u: replace(u, example_request={"store_id": 3, "spend": 1.0, "device": "app"}),
        "'account_id'",
    ),
    "request lacks a field": (
        lambda u: replace(u, example_request={"account_id": 7, "store_id": 3, "spend": 1.0}),
        "'device'",
    ),
    "request value out of bounds": (lambda u: with_request(u, spend=0), "'spend'"),
    "request value not allowed": (lambda u: with_request(u, device="kiosk"), "'device'"),
    "request negative key": (lambda u: with_request(u, store_id=-3), "'store_id'"),
    "request unknown key": (lambda u: with_request(u, coupon="X1"), "'coupon'"),
    "request event id not text": (lambda u: with_request(u, event_id=5), "'event_id'"),
}


@pytest.mark.parametrize(("change", "named"), INVALID.values(), ids=INVALID.keys())
def test_validate_names_what_is_wrong(change: Callable[[UseCase], UseCase], named: str) -> None:
    problems = validate(change(shop()))
    assert problems, "the declaration should not be valid"
    assert any(named in problem for problem in problems), problems


def test_an_example_request_may_carry_the_event_id() -> None:
    assert validate(with_request(shop(), event_id="e-1")) == []


def test_platform_columns_are_the_platform_s_own() -> None:
    assert {contract.EVENT_ID, contract.EVENT_TIMESTAMP, contract.LABEL_TIMESTAMP} <= set(PLATFORM_COLUMNS)
    assert len(set(PLATFORM_COLUMNS)) == len(PLATFORM_COLUMNS) == 17


# --- loading --------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_loader() -> Iterator[None]:
    load_use_case.cache_clear()
    yield
    load_use_case.cache_clear()


@pytest.fixture
def declared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module on the Python path declaring the shop, a wrong object and an invalid shop; its name."""
    module = f"shop_declared_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from dataclasses import replace

            from tests.unit.test_use_case_contract import shop

            USE_CASE = shop()
            NOT_ONE = 42
            BROKEN = replace(USE_CASE, views=())
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return module


def test_load_by_module_and_attribute(declared: str) -> None:
    loaded = load_use_case(f"{declared}:USE_CASE")
    assert isinstance(loaded, UseCase)
    assert loaded.name == "shop"
    assert load_use_case(f"{declared}:USE_CASE") is loaded


def test_load_by_entry_point_name(declared: str, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = [EntryPoint(name="shop", value=f"{declared}:USE_CASE", group=USE_CASE_GROUP)]
    monkeypatch.setattr(contract, "entry_points", lambda group: installed if group == USE_CASE_GROUP else [])
    assert known_use_cases() == ["shop"]
    assert load_use_case("shop").fingerprint == shop().fingerprint


def test_the_module_a_warm_process_imports_for_a_use_case_imports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = [EntryPoint(name="shop", value="shops.corner:USE_CASE", group=USE_CASE_GROUP)]
    monkeypatch.setattr(contract, "entry_points", lambda group: installed if group == USE_CASE_GROUP else [])
    assert use_case_module("shop") == "shops.corner"  # not importable: only named
    assert use_case_module("library.cases:SHOP") == "library.cases"
    assert use_case_module("shopp") is None


def test_an_unknown_name_lists_the_installed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = [
        EntryPoint(name="shop", value="nowhere:USE_CASE", group=USE_CASE_GROUP),
        EntryPoint(name="library", value="nowhere:USE_CASE", group=USE_CASE_GROUP),
    ]
    monkeypatch.setattr(contract, "entry_points", lambda group: installed)
    with pytest.raises(UseCaseError) as raised:
        load_use_case("shopp")
    message = raised.value.message
    assert "'shopp'" in message
    assert "library, shop" in message
    assert "\n" not in message


def test_an_object_that_is_not_a_use_case_is_refused(declared: str) -> None:
    with pytest.raises(UseCaseError, match="NOT_ONE.*int, not a UseCase"):
        load_use_case(f"{declared}:NOT_ONE")


def test_an_invalid_use_case_is_refused_with_its_problems(declared: str) -> None:
    with pytest.raises(UseCaseError, match="BROKEN.*not valid: no feature view is declared"):
        load_use_case(f"{declared}:BROKEN")


def test_a_missing_module_or_attribute_is_named(declared: str) -> None:
    with pytest.raises(UseCaseError, match="no module 'no_such_shop'"):
        load_use_case("no_such_shop.declaration:USE_CASE")
    with pytest.raises(UseCaseError, match="has no 'MISSING'"):
        load_use_case(f"{declared}:MISSING")
    with pytest.raises(UseCaseError, match="package.module:ATTR"):
        load_use_case(f"{declared}:")


def test_the_contract_imports_without_pandas_numpy_or_sklearn() -> None:
    probe = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = {sys.path!r}
        import pipelines.core.use_case
        print(sorted(name for name in ("pandas", "numpy", "sklearn") if name in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
