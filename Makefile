# adaptml — the two commands a newcomer needs are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
# The image tests use docker, or podman where no docker daemon answers; PYTHON_IMAGE is the Dockerfile's base image.
CONTAINER_ENGINE ?= $(shell docker info >/dev/null 2>&1 && echo docker || (command -v podman >/dev/null 2>&1 && echo podman || echo docker))
PYTHON_IMAGE ?= python:3.11-slim-bookworm

.PHONY: setup demo test test-images lint check-deploy bench browser clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The demo needs the embedded S3 server: the `demo` extra (moto), which the runtime images leave out.
$(DEMO_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/adaptml demo

# Debian's chromium drives the browser tests and LibreOffice opens downloaded CSVs (formula safety); installed once.
browser:
	@{ command -v chromium && command -v soffice; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium libreoffice-calc-nogui >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium libreoffice-calc-nogui >/dev/null; fi; }

test: $(STAMP) browser
	$(PY) -m pytest

# Builds the pipeline, app and demo images and runs them for real (tests/deploy/test_containers.py and
# test_compose_run.py, marker `images`, which plain `make test` deselects); prints build times and image sizes.
test-images: $(STAMP)
	CONTAINER_ENGINE=$(CONTAINER_ENGINE) PYTHON_IMAGE=$(PYTHON_IMAGE) \
	  $(PY) -m pytest -m images tests/deploy

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

# Static checks (`make test-images` runs the images): lint the Dockerfile, validate the compose files against the
# compose-spec schema, lint the SAM template.
check-deploy: $(STAMP)
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(VENV)/bin/cfn-lint deploy/lambda/template.yaml

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build
