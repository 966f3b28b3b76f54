# Every target creates the virtual environment it needs when it is missing (or stale).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCAN_VENV := .scan-venv
SCAN_STAMP := $(SCAN_VENV)/.installed
CHECKOV_VERSION := 3.3.30
# Every CloudFormation template in the repository (the product and the deploy seed's endpoint template).
TEMPLATES := service_catalog/product.yaml service_catalog/roles.yaml seed_code/deploy/endpoint-config-template.yml

export SAGEMAKER_SUPPRESS_V2_WARNING := 1

.PHONY: help venv test lint scan demo bench clean

help:
	@echo "make demo   run the whole project lifecycle on the embedded AWS (no AWS account needed)"
	@echo "make test   run every test (tooling, templates, both seed repositories)"
	@echo "make lint   ruff + cfn-lint on every template"
	@echo "make scan   checkov over every template (in its own virtual environment)"
	@echo "make bench  benchmarks: local lifecycle wall time, staging load-test throughput, rolling an update out, prod scaling and rollback"

venv: $(STAMP)

# Installs print one line per step; pip's own output goes to a log that is shown only when a step fails.
# $(call step,what,command,log)
INSTALL_LOG := $(VENV)/install.log
SCAN_LOG := $(SCAN_VENV)/install.log
define step
	@echo "install: $(1)"
	@$(2) >> $(3) 2>&1 || { tail -n 30 $(3); echo "install: failed: $(1) (full log: $(3))"; exit 1; }
endef

$(STAMP): pyproject.toml constraints.txt $(wildcard seed_code/build/pyproject.toml seed_code/deploy/requirements*.txt seed_code/deploy/test/requirements*.txt)
	@echo "install: virtual environment $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@: > $(INSTALL_LOG)
	$(call step,pip,$(BIN)/python -m pip install --upgrade pip,$(INSTALL_LOG))
	$(call step,tooling and pinned dependencies (pyproject.toml + constraints.txt),$(BIN)/python -m pip install -c constraints.txt -e '.[dev]',$(INSTALL_LOG))
	$(if $(wildcard seed_code/build/pyproject.toml),$(call step,build seed (editable: run-pipeline and get-pipeline-definition),$(BIN)/python -m pip install -c constraints.txt -e 'seed_code/build[test]',$(INSTALL_LOG)))
	$(foreach f,$(wildcard seed_code/deploy/requirements.txt seed_code/deploy/test/requirements.txt),$(call step,deploy seed requirements ($(f)),$(BIN)/python -m pip install -c constraints.txt -r $(f),$(INSTALL_LOG)))
	@touch $(STAMP)
	@echo "install: done (log: $(INSTALL_LOG))"

# Two workers (the machines this runs on have 2 cores); a test module runs in one of them, so the embedded AWS and
# the lifecycle run a module shares are set up once. The modules are handed out in the collection's order, the
# longest first (tests/conftest.py), not xdist's (by number of tests). Python caches bytecode (in __pycache__,
# ignored by git) even where PYTHONDONTWRITEBYTECODE is set: the suite starts dozens of interpreters that import the
# same modules.
test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint $(if $(wildcard smbundle/cfn_rules/*.py),--append-rules smbundle/cfn_rules) -- $(wildcard $(TEMPLATES))

$(SCAN_STAMP):
	@echo "install: scan environment $(SCAN_VENV)"
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	@: > $(SCAN_LOG)
	$(call step,checkov $(CHECKOV_VERSION) (in its own environment),$(SCAN_VENV)/bin/python -m pip install --upgrade pip checkov==$(CHECKOV_VERSION),$(SCAN_LOG))
	@touch $(SCAN_STAMP)

scan: $(SCAN_STAMP)
	BC_SKIP_MAPPING=TRUE $(SCAN_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		$(foreach t,$(wildcard $(TEMPLATES)),-f $(t))

demo: $(STAMP)
	$(BIN)/python scripts/run_local.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_lifecycle.py
	$(BIN)/python benchmarks/bench_updates.py
	$(BIN)/python benchmarks/bench_production.py

clean:
	rm -rf $(VENV) $(SCAN_VENV) .pytest_cache .ruff_cache
