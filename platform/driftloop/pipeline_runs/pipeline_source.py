"""A KFP v2 pipeline read from a file: a Python file holding a `@dsl.pipeline` function, or a compiled IR YAML.

Both become the same thing, a KFP component with its pipeline spec, so submitting, naming the steps and typing
the parameters never ask which kind of file it came from.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from driftloop.pipeline_runs.pipeline_parameters import ParameterSpec
from pipelines.core.errors import DriftloopError

PYTHON_SUFFIXES = (".py",)
IR_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class PipelineSource:
    """A pipeline and where it came from.

    Attributes:
        path: the file, absolute.
        component: KFP's component for the pipeline (a `GraphComponent` from Python, a `YamlComponent` from IR).
        function: the pipeline function's name when the file is Python, else None.
    """

    path: Path
    component: Any
    function: str | None = None

    @property
    def name(self) -> str:
        return str(self.component.pipeline_spec.pipeline_info.name)

    @property
    def compiled(self) -> bool:
        return self.function is None

    @cached_property
    def parameters(self) -> dict[str, ParameterSpec]:
        inputs = self.component.component_spec.inputs or {}
        return {
            name: ParameterSpec(name, str(spec.type), spec.default, bool(spec.optional))
            for name, spec in inputs.items()
        }

    @cached_property
    def step_names(self) -> list[str]:
        """The pipeline's steps in an order that respects their dependencies (kfp.local names a step after its
        component, without `comp-`; the IR's task names are the same unless one component runs twice)."""
        spec = self.component.pipeline_spec
        return _dag_steps(spec.root.dag, dict(spec.components.items()))

    def package(self, folder: Path) -> Path:
        """The IR file to submit to KFP: the file itself when it is IR, else the function compiled into
        `folder`."""
        if self.compiled:
            return self.path
        from kfp import compiler  # lazy: pulls kfp's compiler

        out = folder / f"{self.name}.yaml"
        compiler.Compiler().compile(self.component, str(out))
        return out


def _dag_steps(dag: Any, components: dict[str, Any]) -> list[str]:
    tasks = dict(dag.tasks.items())
    placed: list[str] = []
    steps: list[str] = []
    while len(placed) < len(tasks):
        ready = sorted(
            name for name, task in tasks.items() if name not in placed and set(task.dependent_tasks) <= set(placed)
        )
        if not ready:  # a cycle cannot compile; take the rest as they come rather than loop
            ready = sorted(name for name in tasks if name not in placed)
        for name in ready:
            placed.append(name)
            component_name = tasks[name].component_ref.name
            component = components.get(component_name)
            if component is not None and component.WhichOneof("implementation") == "dag":
                steps.extend(_dag_steps(component.dag, components))
            else:
                steps.append(component_name.removeprefix("comp-"))
    return steps


def load_pipeline(path: Path, function: str | None = None) -> PipelineSource:
    """The pipeline in `path`: the `@dsl.pipeline` function of a Python file (`function` names one when the file
    defines several) or a compiled IR. Raises DriftloopError, one line naming the problem."""
    if not path.is_file():
        raise DriftloopError(f"pipeline file {path} does not exist")
    path = path.resolve()
    if path.suffix in PYTHON_SUFFIXES:
        return _from_python(path, function)
    if path.suffix in IR_SUFFIXES:
        if function:
            raise DriftloopError(f"--function {function}: {path.name} is compiled IR, which holds one pipeline")
        return _from_ir(path)
    raise DriftloopError(
        f"{path.name}: a pipeline is a Python file (.py) or compiled KFP IR (.yaml), not {path.suffix}"
    )


def _from_ir(path: Path) -> PipelineSource:
    from kfp import components  # lazy: pulls kfp

    try:
        component = components.load_component_from_file(str(path))
    except Exception as error:  # kfp raises anything from yaml, protobuf or its own checks
        raise DriftloopError(
            f"{path.name} is not KFP IR: {str(error).splitlines()[0] if str(error) else error!r}"
        ) from error
    if component.pipeline_spec.root.WhichOneof("implementation") != "dag":
        raise DriftloopError(f"{path.name} is a single component, not a pipeline (compile a @dsl.pipeline function)")
    return PipelineSource(path, component)


def _from_python(path: Path, function: str | None) -> PipelineSource:
    from kfp.dsl.graph_component import GraphComponent  # lazy: pulls kfp

    module = _import_file(path)
    if function:
        found = getattr(module, function, None)
        if found is None:
            raise DriftloopError(f"--function {function}: {path.name} defines no {function}")
        if not isinstance(found, GraphComponent):
            raise DriftloopError(f"--function {function}: {function} in {path.name} is not a @dsl.pipeline function")
        return PipelineSource(path, found, function)
    own = {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, GraphComponent) and getattr(value.pipeline_func, "__module__", None) == module.__name__
    }
    if not own:
        raise DriftloopError(f"{path.name} defines no @dsl.pipeline function")
    if len(own) > 1:
        raise DriftloopError(
            f"{path.name} defines several pipelines ({', '.join(sorted(own))}); choose with --function"
        )
    (name, component), *_ = own.items()
    return PipelineSource(path, component, name)


def _import_file(path: Path) -> Any:
    """Import a user's pipeline file as a module of its own (its folder first on the path, for its siblings)."""
    name = f"driftloop_pipeline_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DriftloopError(f"{path.name} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's code: whatever it raises is the user's to fix
        sys.modules.pop(name, None)
        raise DriftloopError(f"{path.name} failed to import: {type(error).__name__}: {error}") from error
    finally:
        sys.path.remove(str(path.parent))
    return module
