"""KServe appends its own arguments to custom model server containers; our commands honour them."""

from __future__ import annotations

from driftloop.cli.serve_commands import _kserve_arguments


def test_kserve_arguments_in_both_spellings_are_read() -> None:
    given = _kserve_arguments(
        ["--model_name", "fraud-detector", "--predictor_host=fraud-detector-predictor.ns", "--http_port", "8080",
         "--enable_docs_url"]
    )  # fmt: skip
    assert given == {
        "model_name": "fraud-detector",
        "predictor_host": "fraud-detector-predictor.ns",
        "http_port": "8080",
    }
