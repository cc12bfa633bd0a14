# syntax=docker/dockerfile:1.7
# scmfit server image: multi-stage, virtual environment, non-root, gRPC health check, clean SIGTERM as PID 1.
# Build elsewhere:  docker build -t scmfit .
# With Ray and the S3 model store: docker build --build-arg SCMFIT_EXTRAS=server,cli,ray,s3 -t scmfit-ray .
# Build here (no registry): scripts/container_test.sh builds a debootstrap base and passes BASE_IMAGE.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG SCMFIT_EXTRAS=server,cli
WORKDIR /src
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends binutils \
    && if ! python3 -m venv --help >/dev/null 2>&1; then apt-get install -y --no-install-recommends python3-venv; fi \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml uv.lock README.md ./
COPY client ./client
COPY server ./server
# uv installs exactly what uv.lock pins, compiling bytecode at build time; it stays in this stage.
# The CA bundle secret is only for build hosts whose TLS is intercepted; it is never stored in a layer.
# hadolint ignore=SC2086
RUN --mount=type=secret,id=ca-bundle,required=false \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle SSL_CERT_FILE=/run/secrets/ca-bundle; fi; \
    extras=""; IFS=,; for extra in $SCMFIT_EXTRAS; do extras="$extras --extra $extra"; done; unset IFS; \
    python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check uv==0.13.9 \
    && UV_PROJECT_ENVIRONMENT=/opt/scmfit UV_PYTHON_DOWNLOADS=never UV_NO_CACHE=1 \
      /opt/uv/bin/uv sync --frozen --no-editable --compile-bytecode --python /usr/bin/python3 $extras
# Nothing the server runs: the libraries' own test suites, C sources and debug symbols (but never strip the
# auditwheel-vendored libraries under *.libs/: their patched ELF headers do not survive it).
RUN find /opt/scmfit -depth -type d -name tests -path '*/site-packages/*' \
      -exec rm -rf {} + \
    && find /opt/scmfit -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.c' -o -name '*.cpp' -o -name '*.h' \) -delete \
    && find /opt/scmfit -type f -name '*.so*' -not -path '*.libs/*' -exec strip --strip-unneeded {} + \
    && /opt/scmfit/bin/python -c "import dowhy.gcm, sklearn, scmfit.server.app"

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
