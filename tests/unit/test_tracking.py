"""MLflow's process-wide tracking URI is left as it was found: set only inside `fluent_tracking`."""

from __future__ import annotations

import os

import pytest

from pipelines.registry.tracking import TRACKING_URI_VARIABLE, fluent_tracking, tracking_client


def test_fluent_tracking_sets_the_uri_for_the_block_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.delenv(TRACKING_URI_VARIABLE, raising=False)
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    with fluent_tracking("http://127.0.0.1:1"):
        assert mlflow.get_tracking_uri() == "http://127.0.0.1:1"
        assert os.environ[TRACKING_URI_VARIABLE] == "http://127.0.0.1:1", "MLflow exports it to children"
    assert not mlflow.is_tracking_uri_set()
    assert TRACKING_URI_VARIABLE not in os.environ, "a child process started later would inherit our URI"


def test_fluent_tracking_puts_back_a_uri_set_before_it_even_after_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.setenv(TRACKING_URI_VARIABLE, "http://elsewhere:5000")
    with pytest.raises(RuntimeError), fluent_tracking("http://127.0.0.1:1"):
        raise RuntimeError("a failed log call")
    assert mlflow.get_tracking_uri() == "http://elsewhere:5000"
    assert os.environ[TRACKING_URI_VARIABLE] == "http://elsewhere:5000"
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def test_a_client_names_its_registry_as_well_as_its_tracking_server() -> None:
    client = tracking_client("http://127.0.0.1:1")
    assert client.tracking_uri == "http://127.0.0.1:1"
    assert client._registry_uri == "http://127.0.0.1:1"
