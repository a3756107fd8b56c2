# One-command set-up: every target builds its own virtual environment from the repository's files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A light environment with only the bioimageio.spec version ilastik uses.
LEGACY_VENV := .venv-spec059
LEGACY_STAMP := $(LEGACY_VENV)/.installed
SAMPLE := semiseg_zoo/models/sample_nuclei.tif
PACKAGES := $(wildcard semiseg_zoo/models/*.zip)
PYTEST_ARGS ?=

.PHONY: demo test test-slow lint check-legacy-spec check-packages benchmark clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build first: an unpinned or CUDA torch would pull several GB of wheels.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(LEGACY_STAMP): scripts/validate_legacy_spec.py
	$(PYTHON) -m venv $(LEGACY_VENV)
	$(LEGACY_VENV)/bin/pip install --quiet "bioimageio.spec==0.5.9.*" "pydantic>=2.10.3,<2.14"
	touch $(LEGACY_STAMP)

demo: $(STAMP)
	$(BIN)/semiseg-predict $(SAMPLE) -o demo-output --overwrite

lint: $(STAMP)
	$(BIN)/ruff check semiseg_zoo training tests benchmarks scripts
	$(BIN)/ruff format --check semiseg_zoo training tests benchmarks scripts
	$(BIN)/lint-imports

test: $(STAMP) lint
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# Exit code 5 (no slow tests collected) is not a failure here; the default suite guards that.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS) || [ $$? -eq 5 ]

check-legacy-spec: $(LEGACY_STAMP)
	$(LEGACY_VENV)/bin/python scripts/validate_legacy_spec.py $(PACKAGES)

# The compatibility checklist (core, ilastik, deepImageJ) on every package, test_model included.
check-packages: $(STAMP) $(LEGACY_STAMP)
	$(BIN)/semiseg-export check $(PACKAGES) --legacy-python $(LEGACY_VENV)/bin/python

benchmark: $(STAMP)
	$(BIN)/python benchmarks/predict_speed.py

clean:
	rm -rf $(VENV) $(LEGACY_VENV) demo-output .pytest_cache
