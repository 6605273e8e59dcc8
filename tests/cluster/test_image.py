"""What ships is what is tested: the wheel the image installs holds every module and data file of the source
tree, every module imports from it as the image runs it, and the Dockerfile builds its environment with the
same recipe as these tests (tests/image_env.py)."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.image_env import (
    DOCKERFILE,
    RECIPE,
    REPO,
    SOURCE_ROOTS,
    ImageEnvironment,
    image_environment,
    run_as_image_user,
    user_options,
)
from tests.parity.image import dockerfile_environment

# Files under the package folders that run from a checkout only (`make up`, CI), never inside the image.
CHECKOUT_ONLY = ("platform/driftloop/cluster/scripts/",)
PACKAGES = ("driftloop", "pipelines", "serving", "monitoring", "feature_repo", "use_cases")


@pytest.fixture(scope="module")
def image() -> ImageEnvironment:
    return image_environment()


def installed_path(source: Path) -> str:
    """Where a source file lands in site-packages: `driftloop` is mapped from platform/, the rest are top level."""
    relative = source.relative_to(REPO).as_posix()
    return relative.removeprefix("platform/")


def test_the_wheel_holds_every_module_and_data_file_of_the_source_tree(image: ImageEnvironment) -> None:
    installed = set(image.installed_files())
    expected = {
        installed_path(path)
        for root in SOURCE_ROOTS
        for path in (REPO / root).rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not path.relative_to(REPO).as_posix().startswith(CHECKOUT_ONLY)
    }
    assert expected - installed == set(), "source files the wheel leaves out"
    assert "pipelines/core/settings.py" in installed and "pipelines/kfp/compiled/training_pipeline.yaml" in installed
    assert "driftloop/use_case_template/__init__.py.tmpl" in installed  # `driftloop use-case new` reads it
    stray = {name for name in installed - expected if not name.startswith(("driftloop-", "../../../bin/"))}
    assert stray == set(), "files in the wheel that the source tree no longer has"


IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys, traceback
failed, outside, imported = {}, [], []
for package in sys.argv[1:]:
    root = importlib.import_module(package)
    walked = pkgutil.walk_packages(root.__path__, package + ".", onerror=lambda name: failed.setdefault(name, "walk"))
    for found in walked:
        if found.name.endswith(".__main__"):
            continue
        try:
            module = importlib.import_module(found.name)
        except BaseException:
            failed[found.name] = traceback.format_exc(limit=3)
            continue
        imported.append(found.name)
        if not (getattr(module, "__file__", "") or "").startswith(sys.prefix):
            outside.append(f"{found.name}: {module.__file__}")
from pipelines.core.use_case import known_use_cases, load_use_case
use_cases = {name: load_use_case(name).name for name in known_use_cases()}
report = {"imported": imported, "failed": failed, "outside": outside, "path": sys.path, "use_cases": use_cases}
print(json.dumps(report))
"""


def test_every_module_imports_from_the_installed_wheel_as_the_image_runs_it(image: ImageEnvironment) -> None:
    """As the image's user, with the image's environment, HOME=/tmp and a working folder outside the checkout:
    a module missing from the wheel, a data file read from the source folder or an import that works only from
    the repository root fails here."""
    user = run_as_image_user()
    with tempfile.TemporaryDirectory(prefix="driftloop-image-") as folder:
        Path(folder).chmod(0o777)
        env = {**dockerfile_environment(), "PATH": f"{image.bin}:/usr/bin:/bin", "LANG": "C.UTF-8",
               "DRIFTLOOP_STATE_DIR": f"{folder}/state", "TMPDIR": folder}  # fmt: skip
        done = subprocess.run([str(image.python), "-c", IMPORT_EVERY_MODULE, *PACKAGES], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300, **user_options(user))  # type: ignore[call-overload]  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["failed"] == {}, "\n".join(f"{name}:\n{error}" for name, error in report["failed"].items())
    assert report["outside"] == [], "modules imported from outside the environment"
    assert not any(entry.startswith(str(REPO)) for entry in report["path"]), report["path"]
    assert set(report["imported"]) == source_modules()
    assert report["use_cases"] == {name: name for name in shipped_use_cases()}, "the wheel's use-case entry points"


def shipped_use_cases() -> list[str]:
    """The use cases pyproject declares as entry points (each must load from the wheel by its name)."""
    text = (REPO / "pyproject.toml").read_text()
    section = text.split('[project.entry-points."driftloop.use_cases"]', 1)[1].split("\n[", 1)[0]
    return [line.split("=", 1)[0].strip() for line in section.splitlines() if "=" in line]


def source_modules() -> set[str]:
    """Every module of the source tree by its import name, packages' __init__ as the package, no __main__."""
    names = set()
    for root in SOURCE_ROOTS:
        for path in (REPO / root).rglob("*.py"):
            parts = list(Path(installed_path(path)).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if len(parts) > 1 and parts[-1] != "__main__":
                names.add(".".join(parts))
    return names


def test_the_dockerfile_and_the_tests_install_through_one_recipe() -> None:
    """The Dockerfile installs only through install-runtime.sh, both steps, with the runtime lock; the tests'
    environment (tests/image_env.py) runs the same script."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    runs = [line for line in text.splitlines() if line.startswith("RUN ")]
    recipe = RECIPE.relative_to(REPO).as_posix()
    assert f"COPY requirements-runtime.lock {recipe}" in text, "the recipe is copied before the dependency layer"
    steps = [re.search(r"install-runtime\.sh (\w+) \"[^\"]*\" (\S+)", line) for line in runs]
    assert [(m.group(1), m.group(2)) for m in steps if m] == [
        ("dependencies", "requirements-runtime.lock"),
        ("project", "/tmp/src"),
    ]
    assert not [line for line in runs if re.search(r"\bpip\b.*\binstall\b", line)], "an install outside the recipe"
    assert "rm -rf /tmp/src" in text, "the source does not stay in the image (a `python -m` would import it)"
    assert "RECIPE" in (REPO / "tests" / "image_env.py").read_text()
