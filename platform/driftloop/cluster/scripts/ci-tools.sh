#!/usr/bin/env bash
# What CI needs for the static cluster checks: promtool (Debian's prometheus) and pinned helm/kubectl.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v promtool >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
fi
bash install-tools.sh
