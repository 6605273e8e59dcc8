"""The request guard's rules and the credentials file, as pure logic (the attacks over HTTP are in
tests/integration/test_trust_boundaries.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pipelines.core.credentials import CredentialsMissingError, Scope, allows, load_credentials
from pipelines.core.settings import Settings
from serving.request_guard import RateLimit, required_scope


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v2/models/fraud-detector", None),
        ("HEAD", "/v2/health/live", None),
        ("GET", "/metrics", None),
        ("POST", "/v1/models/fraud-detector:predict", Scope.SCORE),
        ("POST", "/v1/models/fraud-detector:explain", Scope.SCORE),
        ("POST", "/v2/models/fraud-detector/infer", Scope.SCORE),
        ("POST", "/v2/models/fraud-detector/versions/3/infer", Scope.SCORE),
        ("POST", "/v1/labels", Scope.LABEL),
        ("POST", "/v2/repository/models/fraud-detector/unload", Scope.ADMIN),
        ("POST", "/openai/v1/completions", Scope.ADMIN),
        ("DELETE", "/v1/labels", Scope.LABEL),
        ("PUT", "/v1/models/fraud-detector:predict", Scope.SCORE),
        ("POST", "/v1/models/fraud-detector:predict/extra", Scope.ADMIN),
    ],
)
def test_each_route_needs_its_scope(method: str, path: str, scope: Scope | None) -> None:
    assert required_scope(method, path) == scope


def test_admin_may_do_anything_and_other_scopes_only_themselves() -> None:
    assert allows(Scope.ADMIN, Scope.LABEL) and allows(Scope.LABEL, Scope.LABEL)
    assert not allows(Scope.SCORE, Scope.LABEL) and not allows(Scope.LABEL, Scope.ADMIN)


def test_the_rate_limit_refills_at_its_rate_and_keeps_credentials_apart() -> None:
    now = [0.0]
    limit = RateLimit(per_minute=60, clock=lambda: now[0])  # 1 per second, bursts of 15
    assert [limit.wait_s("label") for _ in range(15)] == [0.0] * 15
    assert limit.wait_s("label") == pytest.approx(1.0)
    assert limit.wait_s("admin") == 0.0
    now[0] += 2.0
    assert limit.wait_s("label") == 0.0 and limit.wait_s("label") == 0.0
    assert limit.wait_s("label") > 0


def test_local_mode_creates_private_tokens_once(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings(state_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    first = load_credentials(settings)
    folder = tmp_path / "credentials"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE((folder / s.value).stat().st_mode) for s in Scope} == {0o600}
    assert len({first.token(s) for s in Scope}) == 3, "each scope has a token of its own"
    assert load_credentials(settings) == first, "a second start keeps the tokens"
    assert first.scope_of(first.token(Scope.LABEL)) == Scope.LABEL
    assert first.scope_of(first.token(Scope.LABEL) + "x") is None


def test_the_cluster_never_invents_tokens(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings(  # type: ignore[call-arg]
        mode="kind", kfp_host="http://kfp:8888", state_dir=tmp_path, credentials_dir=tmp_path / "secret",
        _env_file=None,
    )  # fmt: skip
    with pytest.raises(CredentialsMissingError, match="no score token"):
        load_credentials(settings)
    assert not (tmp_path / "secret").exists()
