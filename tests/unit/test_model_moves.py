"""The pure rules of moving a model: what may serve, what a move must say, how moves are recorded and read
back, and how the challenger's share is read (the registry-backed moves are in test_model_slots.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from driftloop.model_control import REQUIRED_LINEAGE, VersionFacts, servable_refusal
from pipelines.registry.model_moves import (
    MoveRefusedError,
    challenger_share,
    check_share,
    move_key,
    moves_from_tags,
    new_move,
)
from pipelines.registry.names import Alias, ModelTag

LINEAGE = {str(tag): "x" for tag in REQUIRED_LINEAGE}


def facts(version: str = "3", gate: str = "promote", **tags: str) -> VersionFacts:
    return VersionFacts(version, (), {**LINEAGE, **tags}, gate, "2026-12-01T00:00:00+00:00")


def test_a_gated_version_with_its_lineage_may_serve_as_any_alias() -> None:
    for alias in (Alias.CHAMPION, Alias.CHALLENGER, Alias.SHADOW):
        assert servable_refusal(facts(), "3", alias, champion="2") is None


def test_refusals_say_what_is_wrong_in_one_line() -> None:
    refusals = {
        "unknown": servable_refusal(None, "9", Alias.CHAMPION, "2"),
        "lineage": servable_refusal(facts(data_fingerprint="", code_commit=""), "3", Alias.CHAMPION, "2"),
        "gate": servable_refusal(facts(gate="reject"), "3", Alias.CHALLENGER, "2"),
        "no gate": servable_refusal(facts(gate=""), "3", Alias.SHADOW, "2"),
        "champion": servable_refusal(facts(), "3", Alias.CHAMPION, "3"),
        "shadow of champion": servable_refusal(facts(), "3", Alias.SHADOW, "3"),
    }
    assert refusals["unknown"] == "version 9 does not exist; `driftloop model list` shows the versions"
    assert "lacks the lineage tags data_fingerprint, code_commit" in refusals["lineage"]
    assert "did not pass the gate (its training run's decision: reject)" in refusals["gate"]
    assert "decision: none recorded" in refusals["no gate"]
    assert refusals["champion"] == "version 3 is already the champion"
    assert refusals["shadow of champion"] == "version 3 is the champion; a shadow must be another version"
    assert all(refusal and "\n" not in refusal for refusal in refusals.values())


def test_a_move_needs_a_reason_and_is_stamped_in_utc() -> None:
    with pytest.raises(MoveRefusedError, match="needs a reason"):
        new_move("promote", Alias.CHAMPION, "1", "2", "admin", "   ")
    with pytest.raises(MoveRefusedError, match="under 1000"):
        new_move("promote", Alias.CHAMPION, "1", "2", "admin", "x" * 1001)
    moved = new_move("promote", Alias.CHAMPION, None, "2", "admin", " better recall ")
    assert (moved.from_version, moved.to_version, moved.why) == ("", "2", "better recall")
    assert datetime.fromisoformat(moved.at).utcoffset() == timedelta(0)


def test_moves_are_read_back_newest_first_whatever_else_is_tagged() -> None:
    start = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    moves = [
        new_move("promote", Alias.CHAMPION, "1", "2", "admin", "first", at=start),
        new_move("challenger", Alias.CHALLENGER, "", "3", "admin", "second", share=0.2, at=start + timedelta(0, 9)),
        new_move("rollback", Alias.CHAMPION, "2", "1", "ops", "third", at=start + timedelta(0, 10)),
    ]
    tags = {move_key(move): move.to_json() for move in moves}
    tags |= {ModelTag.CHALLENGER_SHARE: "0.2", "moved_by": "not a move"}
    assert moves_from_tags(tags) == moves[::-1]
    assert moves_from_tags(tags, last=1) == [moves[2]]
    same_time = {move_key(moves[0], "aaa"), move_key(moves[0], "bbb")}
    assert len(same_time) == 2, "two moves in one microsecond keep both records"


def test_the_share_is_read_safely_and_only_a_fraction_is_accepted() -> None:
    assert challenger_share({ModelTag.CHALLENGER_SHARE: "0.3"}) == 0.3
    for unreadable in ({}, {ModelTag.CHALLENGER_SHARE: "lots"}, {ModelTag.CHALLENGER_SHARE: "nan"}):
        assert challenger_share(unreadable) == 0.0, "a challenger nobody gave a share answers nothing"
    assert challenger_share({ModelTag.CHALLENGER_SHARE: "7"}) == 1.0
    check_share(1.0)
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(MoveRefusedError, match="not a share"):
            check_share(bad)
