# The one driftloop image: every container of the chart and every KFP task runs `driftloop ...` from it.
# Built from the lock file; runs as a non-root user. `make up` builds it and loads it into kind.
FROM python:3.11-slim-bookworm

ARG DRIFTLOOP_CODE_VERSION=unknown
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DRIFTLOOP_CODE_VERSION=${DRIFTLOOP_CODE_VERSION} \
    DRIFTLOOP_STATE_DIR=/var/lib/driftloop \
    DRIFTLOOP_BIND_ADDRESS=0.0.0.0 \
    HOME=/tmp

WORKDIR /opt/driftloop
COPY requirements.lock ./
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv pip install --system --no-cache -r requirements.lock
COPY pyproject.toml README.md ./
COPY platform ./platform
COPY pipelines ./pipelines
COPY feature_repo ./feature_repo
COPY serving ./serving
COPY monitoring ./monitoring
RUN uv pip install --system --no-cache --no-deps . \
 && useradd --uid 10001 --create-home --home-dir /home/driftloop driftloop \
 && mkdir -p /var/lib/driftloop && chown 10001:10001 /var/lib/driftloop

USER 10001:10001
ENTRYPOINT ["driftloop"]
CMD ["--help"]
