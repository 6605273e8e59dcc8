#!/usr/bin/env bash
# The runtime environment's one install recipe. The Dockerfile RUNs it to build the image, and the tests
# build the image-equivalent environment with it (tests/image_env.py), so what is tested is what ships.
#
#   install-runtime.sh dependencies PYTHON LOCK    the runtime lock into PYTHON's environment
#   install-runtime.sh project PYTHON SOURCE       the project from SOURCE as a built wheel (never editable)
#
# Both steps compile bytecode: the image's root file system is read-only and bytecode writing is off, so
# without it every process would compile MLflow, pandas and Feast from source at start. The wheel is built
# from an sdist, so it holds exactly what the project declares (no stale build/ folder, nothing of the
# checkout that pyproject.toml does not name). UV names a uv binary to use; without it, the pinned uv is
# installed into PYTHON's environment with pip. UV_NO_CACHE=1 (the Dockerfile) keeps no download cache.
set -euo pipefail
UV_VERSION=0.13.9

usage() { printf 'usage: %s dependencies PYTHON LOCK | project PYTHON SOURCE\n' "$0" >&2; exit 2; }
(($# == 3)) || usage
step=$1 python=$2 input=$3

uv=${UV:-}
if [[ -z $uv ]]; then
  "$python" -m pip install --quiet --no-cache-dir "uv==$UV_VERSION"
  uv=$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/uv
fi

case $step in
  dependencies)
    "$uv" pip install --quiet --python "$python" --compile-bytecode -r "$input"
    ;;
  project)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$uv" build --quiet --out-dir "$work" "$input"
    rm -rf "$input"/*.egg-info  # the sdist step's metadata, written beside pyproject.toml
    "$uv" pip install --quiet --python "$python" --compile-bytecode --no-deps --reinstall "$work"/*.whl
    # The lock must satisfy what the wheel declares: a dependency added to pyproject.toml but not locked fails here.
    "$uv" pip check --quiet --python "$python"
    ;;
  *) usage ;;
esac
