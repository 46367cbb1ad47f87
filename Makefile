# One way to run things: README, CI and developers all call these targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export CONTAINERS_CONF := $(CURDIR)/localcloud/containers.conf
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help host-packages setup lock lint docs test test-unit test-molecule test-aws test-e2e test-site test-bench demo demo-down bench clean

help:
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/' | expand -t 16

$(VENV)/.installed: requirements.txt requirements.yml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/python scripts/check-collections.py requirements.yml
	touch $@

setup: $(VENV)/.installed ## venv + pinned Python deps + collections (fast when done)

lock: ## regenerate requirements.txt from requirements.in
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q -r requirements.in
	{ echo "# Full pinned set, generated from requirements.in: make lock"; .lock-venv/bin/pip freeze | grep -v '^pip=='; } > requirements.txt
	rm -rf .lock-venv

lint: setup ## yamllint + ansible-lint (production profile)
	yamllint --strict .
	ansible-lint --profile production

docs: setup ## regenerate docs/timeouts.md, docs/timeout-chain.svg and the roles' variable tables
	$(BIN)/python plugins/filter/longhaul_contract.py markdown > docs/timeouts.md
	$(BIN)/python scripts/timeout_chain.py 120 alb > docs/timeout-chain.svg
	$(BIN)/python scripts/role_docs.py

test-unit: setup ## contract unit + property tests, playbooks/timeouts.yml for real, the example app
	pytest -q tests/unit tests/app

test-molecule: setup ## molecule: each host role on Debian 12, Ubuntu 22.04 and 24.04, then the stack (podman, systemd hosts)
	localcloud/up --check-only
	for release in jammy noble; do localcloud/base-image.sh $$release; done
	scripts/molecule-all.sh

test-aws: setup ## provision/teardown on a patched moto server, all LB types
	pytest -q -n 2 --durations=5 tests/aws

test-e2e: setup ## long requests through the real local stack
	localcloud/up --check-only
	pytest -q -s -rxX tests/e2e

test-bench: setup ## behaviour the benchmark relies on: past capacity, 503 + Retry-After within a second
	localcloud/up --check-only
	pytest -q -s tests/bench

host-packages: ## apt packages the local cloud and the tests need (installs only what is missing; root)
	localcloud/up --packages-only

# The whole suite. Stages join this list when they exist and pass on a clean clone.
TEST_STAGES := lint test-unit test-aws test-molecule test-e2e test-site test-bench
test: host-packages ## the whole suite (what CI runs)
	@set -e; for s in $(TEST_STAGES); do \
	  start=$$(date +%s); echo "=== make $$s"; $(MAKE) --no-print-directory $$s; \
	  echo "=== make $$s: ok in $$(( $$(date +%s) - start ))s"; done

demo: ## the whole pipeline on this machine: packages, venv, local cloud (moto, podman), site.yml
	localcloud/demo

demo-down: ## remove the demo's containers, network and moto server (IMAGES=1: also the baked images)
	localcloud/down $(if $(IMAGES),--images)

test-site: setup ## site.yml on a local cloud of its own: run, re-run idempotent, rollout under load, failed bake
	pytest -q -s tests/site

BENCH_ARGS ?=
bench: setup ## benchmarks: longhaul vs common uWSGI vs gunicorn, long requests, overload -> bench/results/
	localcloud/up --check-only
	python bench/run.py $(BENCH_ARGS)

clean: ## remove caches (not the venv)
	rm -rf .cache .pytest_cache .hypothesis
