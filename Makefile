# eos-vmtracer: `make test` and `make demo` work on a fresh Debian 12 machine.
# They install what they need (apt packages when missing, two virtualenvs, the
# simulator's Go build) before they run.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
# EOS runs Python 3.9: the tests run under it too when this machine has it.
PY39 ?= $(shell p=$$(pyenv prefix 3.9.18 2>/dev/null) && [ -x "$$p/bin/python3.9" ] && echo "$$p/bin/python3.9" || command -v python3.9 2>/dev/null)
VENV := .venv
VENV39 := .venv39
BUILD := build
APT_PACKAGES := golang-go golang-github-vmware-govmomi-dev lldpd tshark iproute2 rpm zip openssl patch
VCSIM := $(BUILD)/vcsim-lab
PYTEST_ARGS ?=
# Unit tests run on every core (pytest-xdist, work stealing: the planner's hypothesis
# properties are most of their time). Integration and end-to-end tests share one lab:
# one at a time. The unit pass under the default Python tries each property with a
# fifth of its examples (tests/examples.py); the pass under 3.9, EOS's, with all.
UNIT_JOBS ?= auto
XDIST = -n $(UNIT_JOBS) --dist worksteal

.PHONY: help test lint unit tests39 deps apt venv demo bench soak swix clean lab cli-yaml

help:
	@echo "make test   - install what is needed, lint, run every test"
	@echo "make demo   - start the lab and show VLANs following VMs"
	@echo "make bench  - run the benchmarks (only JSON on stdout: make bench > result.json)"
	@echo "make soak   - 8 vCenters, 10,000 VMs churning 10 minutes against the agent (JSON)"
	@echo "make swix   - build the EOS extension into dist/"

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo ">>> installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip setuptools
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

$(VENV39)/.stamp: pyproject.toml
	@if [ -z "$(PY39)" ]; then echo "no Python 3.9 here" >&2; exit 1; fi
	$(PY39) -m venv $(VENV39)
	$(VENV39)/bin/pip install -q --upgrade pip setuptools
	$(VENV39)/bin/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.stamp
	@if [ -n "$(PY39)" ]; then $(MAKE) --no-print-directory $(VENV39)/.stamp; fi

$(VCSIM): $(wildcard lab/vcsim/*.go) lab/vcsim/build.sh
	@mkdir -p $(BUILD)
	lab/vcsim/build.sh $@

lab: apt $(VCSIM)

deps: apt venv lab

lint: venv
	$(VENV)/bin/ruff check eos_vmtracer tests bench extension lab
	$(VENV)/bin/mypy
	$(VENV)/bin/vermin -q --no-tips --violations -t=3.9- eos_vmtracer extension
	$(VENV)/bin/vermin -q --no-tips --violations -t=2.7- -t=3.9- extension/cli/EosVmTracerCli.py
	$(VENV)/bin/python extension/cli_yaml.py --check

# The EOS CLI extension's YAML, generated from eos_vmtracer/views.py and its types.
cli-yaml: venv
	$(VENV)/bin/python extension/cli_yaml.py

unit: venv
	VMTRACER_PROPERTY_SCALE=20 $(VENV)/bin/python -m pytest -q $(XDIST) tests/unit $(PYTEST_ARGS)

# Everything under Python 3.9 (the runtime of EOS); unit tests under the default
# Python as well. Without 3.9, say so loudly and run everything on the default.
tests39: deps
	@py=$(VENV39)/bin/python; if [ -z "$(PY39)" ]; then \
	  echo "!!!!!!!! NO PYTHON 3.9 ON THIS MACHINE: EOS's RUNTIME IS NOT TESTED !!!!!!!!" >&2; \
	  py=$(VENV)/bin/python; \
	fi; \
	echo "$$py -m pytest (unit, then integration and e2e)"; \
	$$py -m pytest -q $(XDIST) tests/unit $(PYTEST_ARGS) && \
	$$py -m pytest -q tests/integration tests/e2e $(PYTEST_ARGS)

test: deps lint unit tests39
	@if [ -z "$(PY39)" ]; then echo "!!!!!!!! WARNING: tests ran without Python 3.9 !!!!!!!!" >&2; fi

demo: deps
	$(if $(PY39),$(VENV39),$(VENV))/bin/python -m lab.demo

# stdout is the benchmarks' JSON alone (make bench > result.json): installing what is
# missing, and make's own recipe lines, go to stderr. BENCH_ARGS="--quick --only planner".
BENCH_ARGS ?=
bench:
	@$(MAKE) --no-print-directory deps >&2
	@$(if $(PY39),$(VENV39),$(VENV))/bin/python -m bench $(BENCH_ARGS)

# Not part of `make test`. Size and pace: make soak SOAK_DURATION=30 SOAK_VMS=400 ...
SOAK_DURATION ?= 600
SOAK_VMS ?= 10000
SOAK_SESSIONS ?= 8
SOAK_RATE ?= 20
soak: deps
	$(if $(PY39),$(VENV39),$(VENV))/bin/python -m bench.soak --duration $(SOAK_DURATION) \
	  --vms $(SOAK_VMS) --sessions $(SOAK_SESSIONS) --rate $(SOAK_RATE)

# The EOS extension into dist/: a noarch RPM (eos_vmtracer, its pinned pure-Python
# dependencies fetched for EOS's Python 3.9, the vmtracer command, the CLI extension)
# and the SWIX that carries it. Same sources, same bytes. See extension/build_swix.py.
swix: apt venv
	$(VENV)/bin/python extension/build_swix.py --out dist --python $(if $(PY39),$(VENV39),$(VENV))/bin/python

clean:
	rm -rf $(BUILD) dist $(VENV) $(VENV39) .mypy_cache .pytest_cache .ruff_cache
