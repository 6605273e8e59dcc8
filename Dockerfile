# The one driftloop image: every container of the chart and every KFP task runs `driftloop ...` from it.
# Built by the one install recipe the tests use too (install-runtime.sh: the runtime lock, then the project
# as a built wheel, bytecode compiled; tests/image_env.py builds the same environment without Docker and
# `make parity` runs the chart from it). Runs as a non-root user. `make up` builds it, tags it by commit and
# loads it into kind. Layers from the least to the most often changed: dependencies, code, then the code
# version (an ARG early would rebuild the dependency layer on every commit).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DRIFTLOOP_STATE_DIR=/var/lib/driftloop \
    DRIFTLOOP_BIND_ADDRESS=0.0.0.0 \
    HOME=/tmp

WORKDIR /opt/driftloop
COPY requirements-runtime.lock platform/driftloop/cluster/scripts/install-runtime.sh ./
RUN UV_NO_CACHE=1 bash install-runtime.sh dependencies "$(command -v python)" requirements-runtime.lock
# The source is only the wheel's input: it is removed once the wheel is installed, so nothing (a `python -m`
# in this folder included) can import it instead of the installed package.
COPY pyproject.toml README.md /tmp/src/
COPY platform /tmp/src/platform
COPY pipelines /tmp/src/pipelines
COPY feature_repo /tmp/src/feature_repo
COPY serving /tmp/src/serving
COPY monitoring /tmp/src/monitoring
COPY use_cases /tmp/src/use_cases
RUN UV_NO_CACHE=1 bash install-runtime.sh project "$(command -v python)" /tmp/src \
 && rm -rf /tmp/src \
 && useradd --uid 10001 --create-home --home-dir /home/driftloop driftloop \
 && mkdir -p /var/lib/driftloop && chown 10001:10001 /var/lib/driftloop

ARG DRIFTLOOP_CODE_VERSION=unknown
ENV DRIFTLOOP_CODE_VERSION=${DRIFTLOOP_CODE_VERSION}
USER 10001:10001
ENTRYPOINT ["driftloop"]
CMD ["--help"]
