"""The models in service, by registry alias, swapped atomically when an alias moves.

The registry alone says what serves: `champion` answers, `challenger` answers its share of requests (the
registered model's `challenger_share` tag), `shadow` scores a copy of each; `driftloop model` moves them.
A request reads `slots.champion` once and uses that snapshot to the end, so a swap in between never
mixes two versions within one answer. A watcher thread polls the aliases; a new version is loaded off
the request path and only then published (one reference assignment). A failed load keeps the old model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipelines.core.errors import RegistryUnreachableError
from pipelines.core.use_case import UseCase
from pipelines.registry.model_moves import challenger_share
from pipelines.registry.models import registered_alias
from pipelines.registry.names import Alias
from pipelines.registry.onnx_model import BATCH_THREADS
from serving.loaded_model import ScoringModel, load_version
from serving.metrics import MODEL_VERSION

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingModel:
    """One loaded model version."""

    alias: str
    version: str
    run_id: str
    model: ScoringModel

    def scores(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The model's score per row (a probability, a number of minutes...), from one array per input column."""
        return self.model.scores(inputs)


SERVED_ALIASES = (Alias.CHAMPION, Alias.CHALLENGER, Alias.SHADOW)


class ModelSlots:
    """Champion, challenger and shadow, kept in step with the registry; the challenger's share with them."""

    def __init__(
        self,
        client: MlflowClient,
        model_name: str,
        use_case: UseCase,
        onnx_threads: int = 1,
        onnx_batch_threads: int = BATCH_THREADS,
    ) -> None:
        self.client = client
        self.use_case = use_case  # how its versions score (ONNX output, scikit-learn scorer) and on which columns
        self.model_name = model_name
        self.onnx_threads = onnx_threads
        self.onnx_batch_threads = onnx_batch_threads
        self.aliases = SERVED_ALIASES
        self._models: dict[str, ServingModel | None] = dict.fromkeys(self.aliases)
        self._challenger_share = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def champion(self) -> ServingModel | None:
        return self._models.get(Alias.CHAMPION)

    @property
    def challenger(self) -> ServingModel | None:
        return self._models.get(Alias.CHALLENGER)

    @property
    def challenger_share(self) -> float:
        """Share of requests the challenger answers (0 when none serves)."""
        return self._challenger_share if self.challenger is not None else 0.0

    @property
    def shadow(self) -> ServingModel | None:
        return self._models.get(Alias.SHADOW)

    def _registered_version(self, alias: str) -> tuple[str, str] | None:
        """(version, run id) holding `alias`; None when nothing holds it. An unreachable registry raises: the
        slots keep what they serve (a challenger is removed only when the registry says its alias is gone)."""
        version = registered_alias(self.client, self.model_name, alias)
        return None if version is None else (str(version.version), str(version.run_id or ""))

    def _refresh_share(self) -> bool:
        """Read the challenger's share when one serves (one request; none at all without a challenger)."""
        share = challenger_share(self.client.get_registered_model(self.model_name).tags) if self.challenger else 0.0
        if share == self._challenger_share:
            return False
        logger.info("challenger share: %g (was %g)", share, self._challenger_share)
        self._challenger_share = share
        return True

    def refresh(self) -> bool:
        """Bring every slot in line with its alias; True when something changed."""
        changed = False
        for alias in self.aliases:
            registered = self._registered_version(alias)
            current = self._models[alias]
            if registered is None:
                if current is not None and alias != Alias.CHAMPION:
                    MODEL_VERSION.remove(alias, current.version)
                    self._models[alias] = None  # a removed challenger stops serving; a champion never vanishes
                    changed = True
                continue
            if current is not None and current.version == registered[0]:
                continue
            spec, model_input = self.use_case.model, self.use_case.model_input
            model = load_version(
                self.client,
                self.model_name,
                registered[0],
                self.onnx_threads,
                spec,
                model_input,
                self.onnx_batch_threads,
            )
            self._models[alias] = ServingModel(alias, registered[0], registered[1], model)
            if current is not None:
                MODEL_VERSION.remove(alias, current.version)
            MODEL_VERSION.labels(alias, registered[0]).set(1)
            changed = True
            logger.info(
                "%s: now serving %s version %s with %s (was %s)",
                alias,
                self.model_name,
                registered[0],
                model.flavour,
                current.version if current else "none",
            )
        return self._refresh_share() or changed

    def _watch(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.refresh()
            except RegistryUnreachableError as error:
                logger.warning("%s; keeping the models in service", error.message)
            except Exception:  # noqa: BLE001 - the registry may be briefly away; keep serving what we have
                logger.warning("could not refresh models from the registry; keeping the current ones", exc_info=True)

    def start_watching(self, interval_s: float) -> None:
        self._thread = threading.Thread(target=self._watch, args=(interval_s,), name="model-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
