# syntax=docker/dockerfile:1.7
# scmfit server image: multi-stage, virtual environment, non-root, gRPC health check, clean SIGTERM as PID 1.
# Build elsewhere:  docker build -t scmfit .
# Build here (no registry): scripts/container_test.sh builds a debootstrap base and passes BASE_IMAGE.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
WORKDIR /src
# hadolint ignore=DL3008
RUN if ! python3 -m venv --help >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends python3-venv && rm -rf /var/lib/apt/lists/*; \
    fi
RUN python3 -m venv /opt/scmfit
COPY pyproject.toml README.md ./
COPY client ./client
COPY server ./server
# The CA bundle secret is only for build hosts whose TLS is intercepted; it is never stored in a layer.
RUN --mount=type=secret,id=ca-bundle,required=false \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi; \
    /opt/scmfit/bin/pip install --no-cache-dir --disable-pip-version-check '.[server,cli]'

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="scmfit" \
      org.opencontainers.image.description="gRPC service that fits and queries DoWhy structural causal models"
RUN groupadd --system --gid 10001 scmfit \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/scmfit --create-home scmfit \
    && mkdir -p /var/lib/scmfit/models && chown -R 10001:10001 /var/lib/scmfit
COPY --from=build /opt/scmfit /opt/scmfit
ENV PATH=/opt/scmfit/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SCMFIT_ADDRESS=0.0.0.0:50051 \
    SCMFIT_MODEL_DIR=/var/lib/scmfit/models
USER 10001:10001
WORKDIR /var/lib/scmfit
VOLUME ["/var/lib/scmfit/models"]
EXPOSE 50051
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["scmfit", "health", "--address", "127.0.0.1:50051", "--timeout", "4"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["scmfit", "serve"]
