# syntax=docker/dockerfile:1.7
# Two images from one pyproject.toml (the same source of truth as `make setup`):
#   docker build --target pipeline -t adaptml-pipeline .   # `adaptml train CONFIG`, one-shot
#   docker build --target app      -t adaptml-app .        # gunicorn serving the latest models
# Dependencies are built into wheels in a builder stage; the final images install those wheels only (no compilers,
# no pip cache, no build tools) and run as a non-root user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: wheels for the project and every dependency --------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
# Dependencies first (read from pyproject.toml), so a code change does not rebuild them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt
COPY README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# ---- runtime: the shared base of both images ---------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    ADAPTML_RUNTIME_DIR=/tmp/adaptml-runtime
# libgomp1: the OpenMP runtime LightGBM and XGBoost load; the only system library the wheels need.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 adaptml \
    && useradd --system --uid 10001 --gid adaptml --create-home --home-dir /home/adaptml adaptml
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/adaptml-*.whl
WORKDIR /app
COPY --chown=adaptml:adaptml configs ./configs
USER 10001:10001

# ---- pipeline: train and publish one version, then exit ----------------------------------------------------------
FROM runtime AS pipeline
ENTRYPOINT ["adaptml"]
CMD ["train", "/app/configs/hotel_rates.yaml"]

# ---- app: the web app under gunicorn; every worker loads the latest verified version when it starts --------------
FROM runtime AS app
ENV ADAPTML_CONFIG=/app/configs/hotel_rates.yaml \
    GUNICORN_CMD_ARGS="--workers 2 --threads 4 --timeout 120 --graceful-timeout 30 --access-logfile -"
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "adaptml.serving.wsgi:app"]
