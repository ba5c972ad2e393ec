# syntax=docker/dockerfile:1.7
# Images from one pyproject.toml (the same source of truth as `make setup`):
#   docker build --target pipeline -t adaptml-pipeline .   # `adaptml train CONFIG`, one-shot
#   docker build --target app      -t adaptml-app .        # gunicorn serving the latest models
#   docker build --target demo     -t adaptml-demo .       # + the demo extra: `adaptml s3` (embedded S3, no MinIO)
# The images hold a trimmed virtual environment (no compilers, binutils, pip cache, test suites or headers, and no
# pip of its own) and run as a non-root user. A change to the source, or to pyproject.toml that leaves the runtime
# dependency list alone, rebuilds only the small `installed` layer and what follows it.
# `make test-images` builds and runs them; deploy/images.md says where the bytes go.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- requirements: the runtime and demo dependency lists, read from pyproject.toml --------------------------------
FROM ${PYTHON_IMAGE} AS requirements
WORKDIR /build
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
write = lambda name, deps: open(name, 'w').write('\n'.join(deps) + '\n'); \
write('runtime.txt', p['dependencies']); write('demo.txt', p['optional-dependencies']['demo'])"

# ---- project: the adaptml wheel alone (seconds) -------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS project
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# ---- base: the OS user and the one system library the wheels need (libgomp1: OpenMP for LightGBM and XGBoost) ------
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/adaptml/bin:$PATH \
    MPLCONFIGDIR=/home/adaptml/.matplotlib \
    NUMBA_CACHE_DIR=/home/adaptml/.numba \
    ADAPTML_RUNTIME_DIR=/tmp/adaptml-runtime
# apt's package caches (/var/cache/apt/*.bin, 77 MB on the Debian stand-in base) go with the lists.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
    && groupadd --system --gid 10001 adaptml \
    && useradd --system --uid 10001 --gid adaptml --create-home --home-dir /home/adaptml adaptml

# ---- dependencies: a virtual environment with the runtime dependencies, trimmed (deploy/image/slim-site-packages.sh)
# Keyed on the dependency list's content, not pyproject.toml's. binutils (strip) stays in this stage. --without-pip
# and --no-compile: the environment has no pip of its own, and bytecode only for what adaptml imports (`installed`).
FROM base AS dependencies
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends binutils && rm -rf /var/lib/apt/lists/*
COPY --from=requirements /build/runtime.txt /build/requirements.txt
COPY deploy/image/slim-site-packages.sh /build/
RUN python3 -m venv --without-pip /opt/adaptml \
    && pip --python /opt/adaptml/bin/python install --no-cache-dir --no-compile -r /build/requirements.txt \
    && sh /build/slim-site-packages.sh

# ---- runtime: the base plus the environment (no compilers, binutils, pip cache, test suites or headers) ----------
FROM base AS runtime
COPY --from=dependencies /opt/adaptml /opt/adaptml

# ---- installed: adaptml itself, bytecode for what it imports, matplotlib's font cache, the compiled tree walk and
# output transforms (serving/compiled, in NUMBA_CACHE_DIR), the configs, the user
FROM runtime AS installed
COPY --from=project /dist /tmp/dist
COPY deploy/image/check_installed.py /tmp/dist/
RUN pip --python /opt/adaptml/bin/python install --no-cache-dir --no-index --no-deps --no-compile \
        /tmp/dist/adaptml-*.whl \
    && pip --python /opt/adaptml/bin/python check \
    && env -u PYTHONDONTWRITEBYTECODE python /tmp/dist/check_installed.py \
    && python -c "from adaptml.serving.compiled.estimators import warm; warm()" \
    && chown -R adaptml:adaptml /home/adaptml \
    && rm -rf /tmp/dist /tmp/adaptml-runtime
WORKDIR /app
COPY --chown=adaptml:adaptml configs ./configs
USER 10001:10001

# ---- pipeline: train and publish one version, then exit ----------------------------------------------------------
FROM installed AS pipeline
ENTRYPOINT ["adaptml"]
CMD ["train", "/app/configs/hotel_rates.yaml"]

# ---- app: the web app under gunicorn; every worker loads the latest verified version when it starts --------------
# gunicorn_conf binds 0.0.0.0:$PORT; the healthcheck probes the same port. A host-network run
# (`make test-images`) sets PORT and adds `--bind 127.0.0.1:$PORT` to GUNICORN_CMD_ARGS.
FROM installed AS app
ENV ADAPTML_CONFIG=/app/configs/hotel_rates.yaml \
    PORT=8000 \
    GUNICORN_CMD_ARGS="--access-logfile -"
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=4)"]
# gthread workers with read deadlines, bounded request lines, private runtime dirs: src/adaptml/serving/gunicorn_conf.py
CMD ["gunicorn", "--config", "python:adaptml.serving.gunicorn_conf", "adaptml.serving.wsgi:app"]

# ---- demo: the app image plus the demo extra (moto): `adaptml s3`, for machines that cannot pull MinIO ----------
FROM app AS demo
USER 0
COPY --from=requirements /build/demo.txt /tmp/demo.txt
# moto needs botocore's full set of service models: reinstall the same botocore untrimmed.
RUN pip --python /opt/adaptml/bin/python install --no-cache-dir -r /tmp/demo.txt \
    && pip --python /opt/adaptml/bin/python install --no-cache-dir --no-deps --force-reinstall \
        "botocore==$(python -c 'import botocore; print(botocore.__version__)')"
USER 10001:10001
EXPOSE 9000
HEALTHCHECK --interval=5s --timeout=5s --start-period=10s --retries=12 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9000/moto-api/', timeout=4)"]
CMD ["adaptml", "s3", "--host", "0.0.0.0", "--port", "9000"]
