# Every target creates the virtual environment it needs when it is missing (or stale).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCAN_VENV := .scan-venv
SCAN_STAMP := $(SCAN_VENV)/.installed
CHECKOV_VERSION := 3.3.30
# Every CloudFormation template in the repository (the product and the deploy seed's endpoint template).
TEMPLATES := service_catalog/product.yaml seed_code/deploy/endpoint-config-template.yml

export SAGEMAKER_SUPPRESS_V2_WARNING := 1

.PHONY: help venv test lint scan demo bench clean

help:
	@echo "make demo   run the whole project lifecycle on the embedded AWS (no AWS account needed)"
	@echo "make test   run every test (tooling, templates, both seed repositories)"
	@echo "make lint   ruff + cfn-lint on every template"
	@echo "make scan   checkov over every template (in its own virtual environment)"
	@echo "make bench  benchmarks: local lifecycle wall time and staging load-test throughput"

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt $(wildcard seed_code/build/pyproject.toml seed_code/deploy/requirements*.txt seed_code/deploy/test/requirements*.txt)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]' \
		$(if $(wildcard seed_code/build/pyproject.toml),-e 'seed_code/build[test]') \
		$(foreach f,$(wildcard seed_code/deploy/requirements.txt seed_code/deploy/test/requirements.txt),-r $(f))
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint $(if $(wildcard smbundle/cfn_rules/*.py),--append-rules smbundle/cfn_rules) -- $(wildcard $(TEMPLATES))

$(SCAN_STAMP):
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $(SCAN_STAMP)

scan: $(SCAN_STAMP)
	BC_SKIP_MAPPING=TRUE $(SCAN_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		$(foreach t,$(wildcard $(TEMPLATES)),-f $(t))

demo: $(STAMP)
	$(BIN)/python scripts/run_local.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_lifecycle.py

clean:
	rm -rf $(VENV) $(SCAN_VENV) .pytest_cache .ruff_cache
