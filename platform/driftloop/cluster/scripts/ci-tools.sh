#!/usr/bin/env bash
# What CI needs beyond the venv: promtool (Debian's prometheus) for the rule tests, redis-server for the
# cluster's online store tested on loopback, chromium for the Evidently dashboard's browser test, the pinned
# helm/kubectl for the chart checks, PostgreSQL, Prometheus, the Pushgateway and Alertmanager for `make parity`, and
# a system Python 3.11 for the image-equivalent environment.
set -euo pipefail
cd "$(dirname "$0")"
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
command -v prometheus-pushgateway >/dev/null || missing+=(prometheus-pushgateway)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
# A Python 3.11 the image's non-root user can run, for the image-equivalent environment (tests/image_env.py).
[[ -x /usr/bin/python3.11 || -x /usr/local/bin/python3.11 ]] || missing+=(python3.11)
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
bash install-tools.sh --from-pypi
