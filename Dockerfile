# The one driftloop image: every container of the chart and every KFP task runs `driftloop ...` from it.
# Built from the runtime lock (no test or lint tools); runs as a non-root user. `make up` builds it, tags it
# by commit and loads it into kind. Layers from the least to the most often changed: dependencies, code,
# then the code version (an ARG early would rebuild the dependency layer on every commit).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DRIFTLOOP_STATE_DIR=/var/lib/driftloop \
    DRIFTLOOP_BIND_ADDRESS=0.0.0.0 \
    HOME=/tmp

WORKDIR /opt/driftloop
COPY requirements-runtime.lock ./
# Bytecode compiled here: the root file system is read-only and bytecode writing is off, so without it
# every process would compile MLflow, pandas and Feast from source at start.
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv pip install --system --no-cache --compile-bytecode -r requirements-runtime.lock
COPY pyproject.toml README.md ./
COPY platform ./platform
COPY pipelines ./pipelines
COPY feature_repo ./feature_repo
COPY serving ./serving
COPY monitoring ./monitoring
RUN uv pip install --system --no-cache --compile-bytecode --no-deps . \
 && useradd --uid 10001 --create-home --home-dir /home/driftloop driftloop \
 && mkdir -p /var/lib/driftloop && chown 10001:10001 /var/lib/driftloop

ARG DRIFTLOOP_CODE_VERSION=unknown
ENV DRIFTLOOP_CODE_VERSION=${DRIFTLOOP_CODE_VERSION}
USER 10001:10001
ENTRYPOINT ["driftloop"]
CMD ["--help"]
