"""`--param name=value` pairs made into a pipeline's arguments, typed by the parameters the pipeline declares.

KFP would reject a string where its IR says integer only when the run starts (in the cluster, minutes later);
here a wrong name or type is refused before anything is submitted, in one line that names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.core.errors import DriftloopError

# KFP's parameter types (a component spec's `InputSpec.type`) and the Python types their values take.
PYTHON_TYPE = {"String": str, "Integer": int, "Float": float, "Boolean": bool, "List": list, "Dict": dict}
KIND_WORDS = {
    "String": "a string",
    "Integer": "an integer",
    "Float": "a number",
    "Boolean": "a boolean (true or false)",
    "List": "a JSON list",
    "Dict": "a JSON object",
}
TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class ParameterSpec:
    """A pipeline parameter as its definition declares it.

    Attributes:
        name: the parameter's name.
        type: KFP's type name (`String`, `Integer`, `Float`, `Boolean`, `List`, `Dict`), or an artifact type.
        default: its default, None when it has none.
        optional: whether a run may leave it out.
    """

    name: str
    type: str
    default: Any = None
    optional: bool = False

    @property
    def settable(self) -> bool:
        """A parameter, not an artifact input (those come from a task, not from the command line)."""
        return self.type in PYTHON_TYPE


def typed_value(spec: ParameterSpec, text: str) -> Any:
    """`text` as the parameter's declared type; DriftloopError naming the parameter when it is not one."""
    kind = spec.type
    wrong = DriftloopError(f"--param {spec.name}={text!r}: {spec.name} takes {KIND_WORDS[kind]}")
    if kind == "String":
        return text
    if kind == "Integer":
        try:
            return int(text)
        except ValueError as error:
            raise wrong from error
    if kind == "Float":
        try:
            return float(text)
        except ValueError as error:
            raise wrong from error
    if kind == "Boolean":
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise wrong
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise DriftloopError(f"--param {spec.name}: {spec.name} takes {KIND_WORDS[kind]}; {error}") from error
    if not isinstance(value, PYTHON_TYPE[kind]):
        raise wrong
    return value


def declared_default(spec: ParameterSpec) -> Any:
    """The default as its type (an IR stores integers as floats: `6.0`)."""
    if spec.type == "Integer" and isinstance(spec.default, float) and spec.default.is_integer():
        return int(spec.default)
    return spec.default


def parse_parameters(
    specs: Mapping[str, ParameterSpec], pairs: Iterable[str], fixed: Iterable[str] = ()
) -> dict[str, Any]:
    """The arguments `--param name=value` pairs give: each name declared and settable (not among `fixed`, which
    the runner sets), each value of its type, every required parameter given. Raises DriftloopError."""
    arguments: dict[str, Any] = {}
    fixed = set(fixed)
    for pair in pairs:
        name, equals, text = pair.partition("=")
        name = name.strip()
        if not equals or not name:
            raise DriftloopError(f"--param {pair!r} is not name=value")
        spec = specs.get(name)
        if spec is None or name in fixed:
            offered = ", ".join(n for n, s in sorted(specs.items()) if s.settable and n not in fixed) or "none"
            why = "is set by the runner" if spec is not None else "is not a parameter of this pipeline"
            raise DriftloopError(f"--param {name}: {name} {why} (its parameters: {offered})")
        if not spec.settable:
            raise DriftloopError(f"--param {name}: {name} is an artifact input ({spec.type}), not a parameter")
        if name in arguments:
            raise DriftloopError(f"--param {name} given twice")
        arguments[name] = typed_value(spec, text)
    missing = [n for n, s in specs.items() if not s.optional and n not in arguments and n not in fixed]
    if missing:
        raise DriftloopError(f"missing required parameter(s): {', '.join(sorted(missing))} (give --param NAME=VALUE)")
    return arguments


def effective_parameters(specs: Mapping[str, ParameterSpec], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """What the run runs with: the arguments given, and each other parameter's default."""
    shown = {name: declared_default(spec) for name, spec in specs.items() if spec.settable and spec.optional}
    return {**shown, **arguments}
