"""What a use case declares, and everything the platform derives from the declaration.

A use case (what is predicted, about whom, from which fields and features, judged how) is declared once, as a
`UseCase` in its own package, and loaded by name (`load_use_case`). Platform code reads the declaration and
names none of its columns: each list of columns a layer needs is derived here, once (`UseCase.event_columns`,
`UseCase.model_input`...). Pure declarations: pandas, numpy and scikit-learn appear in type hints only, so
importing this module stays cheap wherever a use case is loaded.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta
from functools import cache, cached_property
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pipelines.core.errors import DriftloopError
from pipelines.core.search_space import SearchSpace, space_problems

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

EVENT_ID = "event_id"
EVENT_TIMESTAMP = "event_timestamp"
LABEL_TIMESTAMP = "label_timestamp"
CREATED_TIMESTAMP = "created_timestamp"  # when a feature row was computed (Feast's tie-break)
TIMESTAMP_DTYPE = "datetime64[ns, UTC]"

# Columns the platform itself writes next to a use case's (events, labels, offline tables, the prediction log,
# label spans, quarantine): a use case may not name anything after one of them.
PLATFORM_COLUMNS = (
    EVENT_ID,
    EVENT_TIMESTAMP,
    LABEL_TIMESTAMP,
    CREATED_TIMESTAMP,
    "ingested_at",
    "known_at",
    "via",
    "sent_by",
    "recorded_at",
    "logged_at",
    "role",
    "prediction",
    "model_version",
    "model_alias",
    "request_id",
    "until",
    "quarantine_reason",
)

# The entry-point group installed use cases register under (pyproject: [project.entry-points."driftloop.use_cases"]).
USE_CASE_GROUP = "driftloop.use_cases"

TargetKind = Literal["binary", "regression"]
FieldKind = Literal["number", "integer", "category"]
FIELD_DTYPES: Mapping[str, str] = MappingProxyType({"number": "float64", "integer": "int64", "category": "string"})
LABEL_DTYPES: Mapping[str, str] = MappingProxyType({"binary": "int64", "regression": "float64"})


class UseCaseError(DriftloopError):
    """A use case cannot be found, imported or trusted: the message names it and what to do."""


def feature_column(view: str, feature: str) -> str:
    """A feature's column in training sets and the model input: Feast's full feature name."""
    return f"{view}__{feature}"


def _domain(minimum: float | None, maximum: float | None, open_minimum: bool) -> str:
    """A range as people write it: `(0, 1000]`, `[0, inf]`."""
    low = "-inf" if minimum is None else f"{minimum:g}"
    high = "inf" if maximum is None else f"{maximum:g}"
    return f"{'(' if open_minimum else '['}{low}, {high}]"


def _in_domain(value: float, minimum: float | None, maximum: float | None, open_minimum: bool) -> bool:
    above = minimum is None or (value > minimum if open_minimum else value >= minimum)
    return above and (maximum is None or value <= maximum)


@dataclass(frozen=True)
class Skip:
    """A platform feature this use case takes no part in, and why (logged, tagged on runs, shown to people)."""

    reason: str


@dataclass(frozen=True)
class Entity:
    """Who an event is about: one Feast entity with one int64 join key >= 0 (partitions split by key modulo N)."""

    name: str  # Feast entity name
    key: str  # join-key column of events, requests and the prediction log
    description: str


@dataclass(frozen=True)
class Field:
    """A request-time field of an event: stored with it, sent with each scoring request, an input of the model."""

    name: str
    kind: FieldKind  # stored as float64 | int64 | string
    description: str
    minimum: float | None = None  # one rule for landed events and scoring requests alike
    open_minimum: bool = False  # (minimum, maximum] instead of [minimum, maximum]
    maximum: float | None = None
    allowed: tuple[str, ...] = ()  # category values; also the one-hot encoder's categories, in this order

    @property
    def dtype(self) -> str:
        """The pandas dtype the field is stored as."""
        return FIELD_DTYPES[self.kind]

    @property
    def domain(self) -> str:
        """The values a number or integer field takes, as people write them (messages)."""
        return _domain(self.minimum, self.maximum, self.open_minimum)

    def problem_with(self, value: object) -> str | None:
        """Why `value` is not one of this field's values, or None when it is."""
        if self.kind == "category":
            if not isinstance(value, str):
                return f"expected a string, got {type(value).__name__}"
            return None if value in self.allowed else f"must be one of {list(self.allowed)}"
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or (self.kind == "integer" and not isinstance(number, int)):
            return f"expected {'an integer' if self.kind == 'integer' else 'a number'}, got {type(value).__name__}"
        if isinstance(number, float) and not math.isfinite(number):
            return "must be a finite number"
        if not _in_domain(number, self.minimum, self.maximum, self.open_minimum):
            return f"must be in {self.domain}"
        return None


@dataclass(frozen=True)
class Label:
    """The target: its column, kind, domain and how late it arrives."""

    name: str
    kind: TargetKind  # "binary": int64 in {0, 1}; "regression": float64 in [minimum, maximum]
    description: str
    minimum: float | None = None  # regression domain
    maximum: float | None = None
    positive: str = ""  # binary: what a 1 is called in messages ("12 <positive> among 500")
    unit: str = ""  # regression: the label's unit (messages, dashboards)
    typical_delay: timedelta = timedelta(0)  # median event -> label delay (docs, generator, demo pacing)
    maturity_days: int = 7  # the default label maturity of this use case (settings may override it)

    @property
    def dtype(self) -> str:
        """The pandas dtype the label is stored as."""
        return LABEL_DTYPES[self.kind]


AggregateKind = Literal["count", "sum", "distinct", "gap"]


@dataclass(frozen=True)
class Aggregate:
    """How a streamed feature is kept: a sliding window over an entity's events, ending at its latest event.

    count: events in the window. sum: the total of a number field over them (kept exactly, in millionths).
    distinct: how many different values a column takes in the window. gap: seconds between the latest event and
    the one before it (0 for two at the same instant), or the window's length when there is none inside it.
    The window is (latest - window, latest]; the stream worker (online) and the replay (offline) read the same
    definition (`pipelines.features.stream_windows`)."""

    kind: AggregateKind
    window: timedelta
    column: str | None = None  # sum: a number field; distinct: an entity key or a field; None for count and gap

    @property
    def dtype(self) -> Literal["int64", "float64"]:
        return "int64" if self.kind in ("count", "distinct") else "float64"


@dataclass(frozen=True)
class Feature:
    """One feature of a view, with the Feast type it is served as; a streamed view's carry their aggregate."""

    name: str
    dtype: Literal["int64", "float32", "float64"]  # Feast Int64 / Float32 / Float64; training reads int64 as float64
    description: str
    aggregate: Aggregate | None = None  # set on every feature of a streamed view, and only there


@dataclass(frozen=True)
class ViewInputs:
    """What a view's computation gets for one window of one entity partition."""

    events: pd.DataFrame  # the view's event_columns only
    label_spans: pd.DataFrame | None  # event_id, <label>, label_timestamp (known from), until; None unless uses_labels
    start: datetime  # rows stamped in [start, end]
    end: datetime
    computed_at: datetime  # created_timestamp of the rows (Feast's tie-break)


@dataclass(frozen=True)
class FeatureView:
    """A Feast feature view keyed by one entity, point in time by construction: computed on the platform's hourly
    grid, or streamed (its features carry an `Aggregate`: the stream worker pushes each entity's row as its events
    arrive, and the same windows replayed over the event store write the offline table)."""

    name: str  # also its offline table folder
    entity: str  # Entity.name
    features: tuple[Feature, ...]
    ttl: timedelta  # Feast ttl, and the history a training row needs
    lookback: timedelta  # longest window any feature reads (the refresh recomputes this far back)
    event_columns: tuple[str, ...]  # what compute reads of an event (less to ship to workers)
    uses_labels: bool  # label-derived features: compute gets label spans
    compute: Callable[[ViewInputs], pd.DataFrame]  # key, event_timestamp, features, created_timestamp
    description: str  # Feast source and view description

    @property
    def streamed(self) -> bool:
        """Whether the stream worker keeps this view online (its features are aggregates over a stream)."""
        return any(feature.aggregate is not None for feature in self.features)

    @property
    def push_source(self) -> str:
        """The Feast push source a streamed view is written through (`FeatureStore.push`)."""
        return f"{self.name}_push"


@dataclass(frozen=True)
class ModelInput:
    """The model's input columns in one order, so training, export, serving and drift build the same frame."""

    numeric: tuple[str, ...]  # number and integer fields, then the view__feature columns
    categorical: tuple[str, ...]  # category fields
    categories: Mapping[str, tuple[str, ...]]  # each categorical column's values, in the encoder's order
    feature_columns: tuple[str, ...]  # the view__feature columns alone (skew, defaults)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every input column, in the order the model reads them."""
        return self.numeric + self.categorical


@dataclass(frozen=True)
class OnnxSpec:
    """How the fitted model is exported and read back by onnxruntime."""

    output: str  # the ONNX output holding the score: "probabilities" | "variable"
    column: int | None  # binary: the positive class's column; regression: None ([N, 1] output)
    options: Mapping[str, object]  # skl2onnx options ({"zipmap": False} for classifiers)
    target_opset: Mapping[str, int]  # {"": 18, "ai.onnx.ml": 3}
    parity_tolerance: float  # largest |sklearn - onnx| on the holdout before a version can be registered


@dataclass(frozen=True)
class ModelSpec:
    """How the model is built, fitted and scored: a scikit-learn pipeline skl2onnx can export."""

    params: type[Any]  # frozen dataclass of hyperparameters; its defaults are the defaults
    build: Callable[[Any, int, ModelInput], Any]  # (params, seed, model input) -> unfitted pipeline
    score: Callable[[Any, pd.DataFrame], NDArray[Any]]  # fitted model, frame -> one float per row
    pyfunc_predict_fn: str  # MLflow sklearn flavour: "predict_proba" | "predict"
    onnx: OnnxSpec
    score_name: str  # V2 output name and metric help
    score_buckets: tuple[float, ...]  # Prometheus histogram of served scores
    feature_default: float = 0.0  # an unknown entity's feature values (imputed inside the pipeline)
    # What a hyperparameter search may vary (pipelines.training.search); empty: the fixed `params` only.
    search_space: SearchSpace = dataclass_field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class RateShift:
    """Binary label guard: hold a run whose positive rate jumps beyond max_ratio with z >= z_min."""

    max_ratio: float
    z_min: float = 4.0


@dataclass(frozen=True)
class MeanShift:
    """Regression label guard: hold a run whose label mean moves beyond max_ratio with z >= z_min (sample sd)."""

    max_ratio: float
    z_min: float = 4.0


@dataclass(frozen=True)
class Metric:
    """How a model is judged: all holdout metrics, the one that decides, and realised quality of served answers."""

    primary: str  # also the metric label of realised quality
    higher_is_better: bool
    compute: Callable[[NDArray[Any], NDArray[Any]], dict[str, float]]  # labels, scores -> metrics (NaN: undefined)
    realised: Callable[[NDArray[Any], NDArray[Any]], float | None]  # one (version, hour) group; None: undefined
    realised_min_rows: int  # rows a (version, hour) needs before it is reported
    evidently: TargetKind  # which Evidently preset judges quality snapshots
    calibration: bool | Skip  # ECE and Brier among the holdout metrics
    # The metric the gate's paired bootstrap compares candidate and champion on ("" = `primary`). A classifier may
    # name "precision_at_budget": the share of each day's top `alert_budget` scores that are positive.
    evidence: str = ""
    # Alerts a team works per day (the top-k of each day's scores): precision and value caught at this budget.
    alert_budget: int | Skip = Skip("no alerts: the label is not a positive class to alert on")
    # The request field whose sum over caught positives is the money at stake (fraud: the amount).
    value_field: str | Skip = Skip("no value field declared")

    @property
    def evidence_metric(self) -> str:
        """The gate's comparison metric: `evidence`, or the primary metric when none is named."""
        return self.evidence or self.primary


@dataclass(frozen=True)
class GateThresholds:
    """The gate's thresholds; a run cannot change them (settings may override them, per deployment)."""

    floor: float  # the first model's primary metric must reach this (direction from Metric)
    margin: float  # a challenger beats the champion by more than this, in the metric's direction
    min_holdout_rows: int
    min_holdout_positives: int | Skip  # regression: Skip (no positive class)
    frozen_tolerance: float  # frozen set: at most this much worse than the champion
    label_guard: RateShift | MeanShift | Skip
    realised_alert: float  # realised quality alert threshold, direction from Metric


@dataclass(frozen=True)
class GeneratorConfig:
    """The knobs every generator takes; a use case subclasses it with its own."""

    end: datetime  # exclusive, UTC
    seed: int = 42
    days: int = 30
    size: int = 1000  # the main population
    drift_start_day: int | None = None  # the drifted feed starts here (None: no drift)
    drift_strength: float = 1.0  # 0 = no drift, 1 = the demo's

    def __post_init__(self) -> None:
        """The common knobs' rules (a use case's config adds its own after calling this)."""
        if self.end.tzinfo is None:
            raise ValueError("end must be timezone-aware (UTC)")
        if self.days < 1 or self.size < 1:
            raise ValueError("need days >= 1 and size >= 1")
        if self.drift_start_day is not None and not 0 <= self.drift_start_day < self.days:
            raise ValueError(f"drift_start_day must be in [0, {self.days})")
        if self.drift_strength < 0:
            raise ValueError("drift_strength must be >= 0")

    @property
    def start(self) -> pd.Timestamp:
        """The first instant generated: `end` less `days`."""
        import pandas as pd

        return pd.Timestamp(self.end) - pd.Timedelta(days=self.days)

    @property
    def drift_start(self) -> pd.Timestamp | None:
        """When the drifted feed starts (None: no drift)."""
        import pandas as pd

        return None if self.drift_start_day is None else self.start + pd.Timedelta(days=self.drift_start_day)


@dataclass(frozen=True)
class Batch:
    """One feed: events (event_columns, sorted by time) and one label per event (label_columns), late ones included."""

    events: pd.DataFrame
    labels: pd.DataFrame


@dataclass(frozen=True)
class Feeds:
    """The generated world: the stationary base feed and the drifted one (empty without drift)."""

    base: Batch
    drifted: Batch


@dataclass(frozen=True)
class DemoPlan:
    """How `driftloop demo` plays this use case, and what its end-to-end test holds it to."""

    size: int  # the main population of the demo
    drift_start_day: int
    knobs: Mapping[str, object]  # the use case's own generator knobs for the demo
    traffic_rows: int  # scoring requests per phase
    live_hours: int
    drifted_feed: str  # timeline wording and lake file prefix
    v1_primary: tuple[float, float]  # the range the first model's holdout primary metric must fall in
    healthy_drift_share_max: float
    drifted_drift_share_min: float
    # A pattern only fresh (streamed) features can see, played live at the end: from the world's history, the
    # requests that build it up, the one it should be caught at, and the same request for a quiet twin entity.
    burst: Callable[[pd.DataFrame], Burst] | None = None
    # Entity keys the demo sends at most one event of per phase. A phase is hours of the world sent within
    # seconds: a card's second transaction of those hours would reach a streamed window seconds after its first
    # and look like a burst that never happened.
    once_per_phase: tuple[str, ...] = ()


@dataclass(frozen=True)
class Burst:
    """A live pattern for the demo: `build_up` sent `pause_s` apart, then `caught` (and `twin`, the same request
    for an entity without the build-up) once the stream worker has folded them."""

    name: str  # the timeline's wording
    build_up: pd.DataFrame  # request rows (entity keys, fields, event_id)
    caught: pd.DataFrame  # one request row
    twin: pd.DataFrame  # one request row
    pause_s: float = 1.0


ConfigT = TypeVar("ConfigT", bound=GeneratorConfig)


@dataclass(frozen=True)
class DataGenerator(Generic[ConfigT]):
    """The use case's synthetic world for demos, tests and benches, with a drift knob."""

    config: type[ConfigT]  # GeneratorConfig or the use case's subclass of it
    generate_feeds: Callable[[ConfigT], Feeds]
    demo: DemoPlan


@dataclass(frozen=True)
class UseCase:
    """One use case, declared once in its own package; platform code reads it and names none of its fields."""

    name: str  # DRIFTLOOP_USE_CASE
    description: str  # registered model description
    model_name: str  # default registered model name
    feast_project: str
    experiment: str  # default MLflow experiment
    entities: tuple[Entity, ...]  # the first is the partition entity of training sets
    fields: tuple[Field, ...]
    label: Label
    views: tuple[FeatureView, ...]
    model: ModelSpec
    metric: Metric
    gate: GateThresholds
    generator: DataGenerator[Any]
    example_request: Mapping[str, object]  # one valid instance: probes, parity, docs

    @cached_property
    def entity_keys(self) -> tuple[str, ...]:
        """The join-key columns, in declaration order."""
        return tuple(entity.key for entity in self.entities)

    @cached_property
    def event_columns(self) -> Mapping[str, str]:
        """An event's columns and pandas dtypes: id, time, entity keys, then the fields."""
        columns = {EVENT_ID: "string", EVENT_TIMESTAMP: TIMESTAMP_DTYPE}
        columns.update((key, "int64") for key in self.entity_keys)
        columns.update((field.name, field.dtype) for field in self.fields)
        return MappingProxyType(columns)

    @cached_property
    def label_columns(self) -> Mapping[str, str]:
        """A label's columns and pandas dtypes: the event it is about, its value, and when it became known."""
        return MappingProxyType(
            {EVENT_ID: "string", self.label.name: self.label.dtype, LABEL_TIMESTAMP: TIMESTAMP_DTYPE}
        )

    @cached_property
    def identity_columns(self) -> tuple[str, ...]:
        """What an event says about itself (entity keys, then fields): two events alike in these are duplicates."""
        return self.entity_keys + tuple(field.name for field in self.fields)

    @cached_property
    def feature_refs(self) -> tuple[str, ...]:
        """Feast feature references (`view:feature`), in declaration order."""
        return tuple(f"{view.name}:{feature.name}" for view in self.views for feature in view.features)

    @cached_property
    def feature_columns(self) -> tuple[str, ...]:
        """The features' columns in training sets and the model input (`view__feature`), in declaration order."""
        return tuple(feature_column(view.name, feature.name) for view in self.views for feature in view.features)

    @cached_property
    def model_input(self) -> ModelInput:
        """The model's input columns: numeric fields then features, and the category fields with their values."""
        categorical = tuple(field for field in self.fields if field.kind == "category")
        return ModelInput(
            numeric=tuple(field.name for field in self.fields if field.kind != "category") + self.feature_columns,
            categorical=tuple(field.name for field in categorical),
            categories=MappingProxyType({field.name: field.allowed for field in categorical}),
            feature_columns=self.feature_columns,
        )

    @cached_property
    def max_ttl(self) -> timedelta:
        """The longest view ttl: the history a training row needs before all its features can be known."""
        return max(view.ttl for view in self.views)

    @cached_property
    def max_lookback(self) -> timedelta:
        """The longest window any feature reads: how far back a refresh recomputes."""
        return max(view.lookback for view in self.views)

    @cached_property
    def request_fields(self) -> tuple[Field, ...]:
        """What a scoring request carries: each entity key (an integer >= 0), then the fields."""
        keys = tuple(Field(entity.key, "integer", entity.description, minimum=0) for entity in self.entities)
        return keys + self.fields

    @cached_property
    def fingerprint(self) -> str:
        """A sha256 of everything that makes data and models of this use case comparable (names, kinds, dtypes,
        domains, views, label, metric, gate): runs and versions carry it, so one declared differently is told
        apart. Descriptions and code (compute, build, score) are left out."""
        canonical = json.dumps(_identity(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def view_of(self, name: str) -> FeatureView:
        """The feature view called `name`."""
        for view in self.views:
            if view.name == name:
                return view
        raise KeyError(f"use case {self.name!r} has no feature view {name!r}; it has {[v.name for v in self.views]}")

    def entity_of(self, name: str) -> Entity:
        """The entity called `name`."""
        for entity in self.entities:
            if entity.name == name:
                return entity
        raise KeyError(f"use case {self.name!r} has no entity {name!r}; it has {[e.name for e in self.entities]}")

    def key_of(self, view: str) -> str:
        """The join-key column of the feature view called `view`."""
        return self.entity_of(self.view_of(view).entity).key

    def entity_of_column(self, column: str) -> Entity | None:
        """The entity a model input column describes: its view's entity for a feature column, None for a field."""
        for view in self.views:
            if column in (feature_column(view.name, feature.name) for feature in view.features):
                return self.entity_of(view.entity)
        if any(field.name == column for field in self.fields):
            return None
        raise KeyError(f"{column!r} is not a model input column of use case {self.name!r}")

    def offline_table_columns(self, view: str) -> dict[str, str]:
        """The columns and pandas dtypes of a view's offline table (what a partition without rows writes)."""
        declared = self.view_of(view)
        return {
            self.key_of(view): "int64",
            EVENT_TIMESTAMP: TIMESTAMP_DTYPE,
            **{feature.name: feature.dtype for feature in declared.features},
            CREATED_TIMESTAMP: TIMESTAMP_DTYPE,
        }


def _skippable(value: object) -> object:
    """A value that may be a Skip, as the fingerprint sees it: the reason is wording, not identity."""
    return "skip" if isinstance(value, Skip) else value


def _guard(guard: RateShift | MeanShift | Skip) -> object:
    if isinstance(guard, Skip):
        return "skip"
    return {"kind": type(guard).__name__, "max_ratio": guard.max_ratio, "z_min": guard.z_min}


def _feature_identity(feature: Feature) -> list[object]:
    aggregate = feature.aggregate
    if aggregate is None:
        return [feature.name, feature.dtype]
    return [feature.name, feature.dtype, aggregate.kind, aggregate.window.total_seconds(), aggregate.column]


def _identity(use_case: UseCase) -> dict[str, object]:
    """What the fingerprint covers, as plain JSON values in declaration order."""
    label = use_case.label
    gate = use_case.gate
    return {
        "name": use_case.name,
        "entities": [[entity.name, entity.key] for entity in use_case.entities],
        "fields": [
            [field.name, field.kind, field.dtype, field.minimum, field.open_minimum, field.maximum, list(field.allowed)]
            for field in use_case.fields
        ],
        "label": [label.name, label.kind, label.dtype, label.minimum, label.maximum],
        "views": [
            {
                "name": view.name,
                "entity": view.entity,
                "features": [_feature_identity(feature) for feature in view.features],
                "ttl": view.ttl.total_seconds(),
                "lookback": view.lookback.total_seconds(),
                "event_columns": list(view.event_columns),
                "uses_labels": view.uses_labels,
            }
            for view in use_case.views
        ],
        "metric": [
            use_case.metric.primary,
            use_case.metric.higher_is_better,
            use_case.metric.evidence_metric,
            _skippable(use_case.metric.alert_budget),
            _skippable(use_case.metric.value_field),
        ],
        "gate": {
            "floor": gate.floor,
            "margin": gate.margin,
            "min_holdout_rows": gate.min_holdout_rows,
            "min_holdout_positives": _skippable(gate.min_holdout_positives),
            "frozen_tolerance": gate.frozen_tolerance,
            "label_guard": _guard(gate.label_guard),
            "realised_alert": gate.realised_alert,
        },
    }


def validate(use_case: UseCase) -> list[str]:
    """Every way the declaration contradicts itself or the platform, one line each; empty when it is valid."""
    return [
        *_name_problems(use_case),
        *_view_problems(use_case),
        *_kind_problems(use_case),
        *_domain_problems(use_case),
        *_example_problems(use_case),
        *space_problems(use_case.model.search_space, use_case.model.params),
    ]


def _name_problems(use_case: UseCase) -> Iterator[str]:
    """At least one entity and one view; column and view names unique and none of them a platform column."""
    if not use_case.entities:
        yield "no entity is declared"
    if not use_case.views:
        yield "no feature view is declared"
    for name, count in Counter(entity.name for entity in use_case.entities).items():
        if count > 1:
            yield f"entity {name!r} is declared {count} times"
    named = [
        *((entity.key, f"the key of entity {entity.name!r}") for entity in use_case.entities),
        *((field.name, "a field") for field in use_case.fields),
        (use_case.label.name, "the label"),
        *((view.name, "a feature view") for view in use_case.views),
    ]
    seen: dict[str, str] = {}
    for name, role in named:
        if name in PLATFORM_COLUMNS:
            yield f"{role} is named {name!r}, a column the platform writes; rename it"
        elif name in seen:
            yield f"{name!r} is declared twice: as {seen[name]} and as {role}"
        else:
            seen[name] = role


def _view_problems(use_case: UseCase) -> Iterator[str]:
    """Each view keyed by a declared entity, with features named uniquely, reading declared event columns."""
    keys = {entity.name: entity.key for entity in use_case.entities}
    for view in use_case.views:
        if view.entity not in keys:
            yield f"feature view {view.name!r} is keyed by entity {view.entity!r}, which is not declared"
        if not view.features:
            yield f"feature view {view.name!r} declares no feature"
        for name, count in Counter(feature.name for feature in view.features).items():
            if count > 1:
                yield f"feature {name!r} appears {count} times in feature view {view.name!r}"
            if name in PLATFORM_COLUMNS:
                yield f"feature {name!r} of feature view {view.name!r} is named after a column the platform writes"
            elif name == keys.get(view.entity):
                yield f"feature {name!r} of feature view {view.name!r} has the name of the view's key column"
        for column in view.event_columns:
            if column not in use_case.event_columns:
                yield f"feature view {view.name!r} reads {column!r}, which is not an event column"
        if view.streamed:
            yield from _stream_problems(use_case, view)


def _stream_problems(use_case: UseCase, view: FeatureView) -> Iterator[str]:
    """A streamed view: every feature an aggregate of the right type over columns it reads, no labels, and a
    lookback that is its longest window (what the refresh and the worker keep of each entity)."""
    which = f"streamed view {view.name!r}"
    if view.uses_labels:
        yield f"{which} cannot use labels: its events stream in as they are answered, before any label"
    numbers = {field.name for field in use_case.fields if field.kind != "category"}
    windows = []
    for feature in view.features:
        aggregate = feature.aggregate
        if aggregate is None:
            yield f"{which}: feature {feature.name!r} has no aggregate (a streamed view's features all have one)"
            continue
        windows.append(aggregate.window)
        if aggregate.window <= timedelta(0):
            yield f"{which}: feature {feature.name!r} has a window of {aggregate.window}; it must be positive"
        if feature.dtype != aggregate.dtype:
            yield f"{which}: {feature.name!r} is a {aggregate.kind}, served as {aggregate.dtype}, not {feature.dtype}"
        needs_column = aggregate.kind in ("sum", "distinct")
        if needs_column != (aggregate.column is not None):
            yield f"{which}: a {aggregate.kind} {'needs' if needs_column else 'takes no'} column ({feature.name!r})"
        elif aggregate.kind == "sum" and aggregate.column not in numbers:
            yield f"{which}: feature {feature.name!r} sums {aggregate.column!r}, which is not a number field"
        if aggregate.column is not None and aggregate.column not in view.event_columns:
            yield f"{which}: feature {feature.name!r} reads {aggregate.column!r}, missing from its event_columns"
    if windows and view.lookback != max(windows):
        yield f"{which} looks back {view.lookback}; it must be its longest window, {max(windows)}"
    key = next((entity.key for entity in use_case.entities if entity.name == view.entity), None)
    for column in (EVENT_ID, EVENT_TIMESTAMP, key):
        if column is not None and column not in view.event_columns:
            yield f"{which} must read {column!r} (its event_columns)"


def _kind_problems(use_case: UseCase) -> Iterator[str]:
    """The metric, the ONNX export and the gate agree with the label's kind."""
    label, gate = use_case.label, use_case.gate
    which = f"{label.kind} label {label.name!r}"
    if use_case.metric.evidently != label.kind:
        yield f"{which} is judged as {use_case.metric.evidently} (metric.evidently); it must be {label.kind!r}"
    column = use_case.model.onnx.column
    if label.kind == "binary" and (isinstance(column, bool) or not isinstance(column, int)):
        yield f"{which} needs model.onnx.column to name the positive class's column (an int), not {column!r}"
    if label.kind == "regression" and column is not None:
        yield f"{which} has a single output: model.onnx.column must be None, not {column!r}"
    positives = gate.min_holdout_positives
    if label.kind == "regression" and not isinstance(positives, Skip):
        yield f"{which} has no positive class: gate.min_holdout_positives must be a Skip, not {positives!r}"
    if label.kind == "binary" and isinstance(positives, Skip):
        yield f"{which} needs gate.min_holdout_positives as a count, not a Skip"
    guard = gate.label_guard
    if isinstance(guard, RateShift) and label.kind != "binary":
        yield f"{which} has no positive rate: gate.label_guard cannot be a RateShift"
    if isinstance(guard, MeanShift) and label.kind != "regression":
        yield f"{which} is guarded by its positive rate: gate.label_guard cannot be a MeanShift"
    if label.kind == "regression" and use_case.metric.calibration is True:
        yield f"{which} has no probabilities to calibrate: metric.calibration must be a Skip"
    yield from _alert_problems(use_case, which)


EVIDENCE_METRICS = {"binary": ("roc_auc", "precision_at_budget"), "regression": ("mae",)}


def _alert_problems(use_case: UseCase, which: str) -> Iterator[str]:
    """The gate's evidence metric, the alert budget and the value field fit the label's kind and the fields."""
    metric, kind = use_case.metric, use_case.label.kind
    if metric.evidence_metric not in EVIDENCE_METRICS[kind]:
        yield f"{which} can be compared on {EVIDENCE_METRICS[kind]} (metric.evidence), not {metric.evidence_metric!r}"
    budget = metric.alert_budget
    if kind == "regression" and not isinstance(budget, Skip):
        yield f"{which} has no positives to alert on: metric.alert_budget must be a Skip, not {budget!r}"
    if not isinstance(budget, Skip) and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        yield f"metric.alert_budget must be a count of alerts per day (>= 1), not {budget!r}"
    if metric.evidence_metric == "precision_at_budget" and isinstance(budget, Skip):
        yield f"{which} is compared at its alert budget (metric.evidence): metric.alert_budget must be a count"
    value = metric.value_field
    if not isinstance(value, Skip) and value not in {field.name for field in use_case.fields if field.kind == "number"}:
        yield f"metric.value_field {value!r} must name a number field of the request"


def _domain_problems(use_case: UseCase) -> Iterator[str]:
    """Category fields list their values once each; other fields and the label have a non-empty range."""
    for field in use_case.fields:
        which = f"{field.kind} field {field.name!r}"
        if field.kind == "category":
            if not field.allowed:
                yield f"{which} allows no value"
            for value, count in Counter(field.allowed).items():
                if count > 1:
                    yield f"{which} allows {value!r} {count} times"
            if field.minimum is not None or field.maximum is not None:
                yield f"{which} has a minimum or maximum; only numbers do"
        else:
            if field.allowed:
                yield f"{which} lists allowed values; only category fields do"
            if not _range_holds(field.minimum, field.maximum, field.open_minimum):
                yield f"{which} has an empty range {field.domain}"
    label = use_case.label
    if not _range_holds(label.minimum, label.maximum, open_minimum=False):
        yield f"label {label.name!r} has an empty range {_domain(label.minimum, label.maximum, False)}"


def _range_holds(minimum: float | None, maximum: float | None, open_minimum: bool) -> bool:
    if minimum is None or maximum is None:
        return True
    return minimum < maximum if open_minimum else minimum <= maximum


def _example_problems(use_case: UseCase) -> Iterator[str]:
    """The example request would pass the request checks: every key and field, valid values, nothing unknown."""
    request = use_case.example_request
    for field in use_case.request_fields:
        if field.name not in request:
            yield f"example_request lacks {field.name!r}"
        elif (problem := field.problem_with(request[field.name])) is not None:
            yield f"example_request {field.name!r}: {problem}"
    if EVENT_ID in request and not isinstance(request[EVENT_ID], str):
        yield f"example_request {EVENT_ID!r}: expected a string, got {type(request[EVENT_ID]).__name__}"
    known = {field.name for field in use_case.request_fields} | {EVENT_ID}
    for key in request:
        if key not in known:
            yield f"example_request has {key!r}, which is neither an entity key nor a field"


def known_use_cases() -> list[str]:
    """The names of the installed use cases (entry points of the driftloop.use_cases group)."""
    return sorted({entry_point.name for entry_point in entry_points(group=USE_CASE_GROUP)})


def use_case_module(name: str) -> str | None:
    """The module that defines the use case called `name` (None: no such use case), for a warm process to import
    ahead of the commands that load it; nothing is imported here."""
    if ":" in name:
        return name.partition(":")[0] or None
    return next(
        (entry_point.module for entry_point in entry_points(group=USE_CASE_GROUP) if entry_point.name == name), None
    )


@cache
def load_use_case(name: str) -> UseCase:
    """The use case called `name`, validated: an installed one by its entry-point name, or any
    `package.module:ATTR` importable here (a use case on PYTHONPATH, not installed)."""
    found = _import_attribute(name) if ":" in name else _installed(name)
    if not isinstance(found, UseCase):
        raise UseCaseError(f"use case {name!r} is a {type(found).__name__}, not a UseCase")
    problems = validate(found)
    if problems:
        raise UseCaseError(f"use case {name!r} is not valid: {'; '.join(problems)}")
    return found


def _installed(name: str) -> object:
    for entry_point in entry_points(group=USE_CASE_GROUP):
        if entry_point.name == name:
            return entry_point.load()
    known = ", ".join(known_use_cases()) or "none"
    raise UseCaseError(
        f"unknown use case {name!r}: the installed ones are {known}; name another as package.module:ATTR"
    )


def _import_attribute(reference: str) -> object:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise UseCaseError(f"use case {reference!r} is not package.module:ATTR")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only the named module missing is the caller's mistake; a module the use case itself imports is its bug.
        if error.name is None or not f"{module_name}.".startswith(f"{error.name}."):
            raise
        raise UseCaseError(f"use case {reference!r}: no module {error.name!r} on the Python path") from error
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise UseCaseError(f"use case {reference!r}: module {module_name!r} has no {attribute!r}") from None
