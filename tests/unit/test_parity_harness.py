"""The parity harness's own rules, as pure logic (the harness runs in `make parity`)."""

from __future__ import annotations


def test_the_parity_harness_expands_container_args_as_the_kubelet_does() -> None:
    """`$(NAME)` is a defined variable's value, `$$` a literal `$`, an undefined one stays as written."""
    from tests.parity.pods import expand

    env = {"REDIS_PASSWORD": "pw", "A": "x"}
    assert expand("$(REDIS_PASSWORD)", env) == "pw"
    assert expand("--a=$(A)-$(B)", env) == "--a=x-$(B)"
    assert expand("$$(A)", env) == "$(A)"
