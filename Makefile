# vpe.hypervisor: `make demo` and `make test` are the two commands a new user runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
COLLECTIONS := .collections
LINK := $(COLLECTIONS)/ansible_collections/vpe/hypervisor
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLLECTIONS)
export PYTHONPATH := $(CURDIR)/$(COLLECTIONS)

.PHONY: help venv link libvirtd test unit integration playbooks api ui reliability fuzz-long reliability-doc sanity compat docs changelog demo demo-clean clean bench-metrics bench-pools bench bench-short bench-peer-venv bench-tools lint roles

help:
	@echo "make demo    set up and start a shim on this host's libvirt, show it answering"
	@echo "make test    set up everything (libvirtd too, when root on Debian) and run the whole suite"
	@echo "tiers: unit integration playbooks api ui reliability sanity compat docs changelog"
	@echo "make fuzz-long   schemathesis with a large budget; make reliability-doc   render docs/reliability.md"

$(VENV)/.installed: requirements-dev.txt
	@command -v pkg-config >/dev/null && pkg-config --exists libvirt || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then scripts/ensure-libvirtd.sh; \
	  else echo "libvirt-python needs libvirt's headers: apt-get install libvirt-dev pkg-config" >&2; exit 1; fi; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

link:
	@mkdir -p $(dir $(LINK))
	@[ -L $(LINK) ] || ln -sfn ../../.. $(LINK)

libvirtd:
	scripts/ensure-libvirtd.sh

test: venv link libvirtd sanity compat docs changelog lint
	VPE_TEST_CLEANUP=1 $(PY) -m pytest -p no:cacheprovider --ignore=tests/lab tests

unit: venv link
	$(PY) -m pytest tests/unit

integration: venv link libvirtd
	$(PY) -m pytest tests/integration

playbooks: venv link libvirtd
	$(PY) -m pytest tests/playbooks

api: venv link libvirtd
	$(PY) -m pytest tests/api

ui: venv link libvirtd
	$(PY) -m pytest tests/ui

# fuzzing, bad input, auth, concurrency, SIGKILL crashes, a libvirtd restart (docs/reliability.md)
reliability: venv link libvirtd
	$(PY) -m pytest tests/reliability

fuzz-long: venv link libvirtd
	VPE_FUZZ_EXAMPLES=$${VPE_FUZZ_EXAMPLES:-500} $(PY) -m pytest tests/reliability/test_contract.py -k schemathesis

reliability-doc: venv
	$(PY) tests/reliability/render_doc.py

# The roles: api_shim deployed and its units run from ExecStart, and molecule
# (extensions/molecule/default) converging both roles on this machine.
roles: venv link libvirtd
	$(PY) -m pytest tests/roles

# ansible-lint, production profile (.ansible-lint): roles, playbooks, molecule scenario.
lint: venv link
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/ansible-lint

sanity: venv
	scripts/sanity.sh

# module_utils and modules run on the managed host: Python 3.8 and later.
compat: venv
	$(VENV)/bin/vermin -q -t=3.8- --violations --no-tips plugins/

docs: venv link
	@for m in $$(ls plugins/modules/*.py | xargs -n1 basename | sed 's/\.py$$//'); do \
	  $(VENV)/bin/ansible-doc vpe.hypervisor.$$m >/dev/null || exit 1; done; echo "ansible-doc renders every module"

changelog: venv
	$(VENV)/bin/antsibull-changelog lint

demo: venv link
	scripts/demo.sh

demo-clean:
	scripts/demo.sh clean

# Not part of `make test`: query time per range on a 62-day store, collector CPU, store size.
bench-metrics: venv link libvirtd
	$(PY) bench/metrics/bench_metrics.py

# 20 pools x 500 volumes: GET /hypervisor/pools and vpe_facts against du -s and
# community.libvirt's virt_pool (peer venv bench/out/.venv-peer); writes bench/README.md.
bench-pools: venv link libvirtd
	$(PY) bench/pools/bench_pools.py

# Not part of `make test`: the performance suite (bench/run.py): module overhead
# against community.libvirt and ping, fleet scaling, shim req/s and latency
# against a constant endpoint; writes its table to bench/README.md. Needs root.
BENCH_PEER := bench/out/.venv-peer

$(BENCH_PEER)/.installed: bench/requirements-peer.txt
	$(PYTHON) -m venv $(BENCH_PEER)
	$(BENCH_PEER)/bin/pip install -q --upgrade pip
	$(BENCH_PEER)/bin/pip install -q -r bench/requirements-peer.txt
	touch $@

bench-peer-venv: $(BENCH_PEER)/.installed

bench-tools:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -q wrk || { apt-get update -q && apt-get install -y -q wrk; }; \
	  else echo "the bench needs wrk: apt-get install wrk" >&2; exit 1; fi; }

bench: venv link libvirtd bench-peer-venv bench-tools
	$(PY) bench/run.py

bench-short: venv link libvirtd bench-peer-venv bench-tools
	$(PY) bench/run.py --short

clean:
	rm -rf $(VENV) $(COLLECTIONS) .sanity .pytest_cache tests/output

# The VM lab: make lab, lab-test, lab-down, lab-ci (lab/lab.mk).
include lab/lab.mk
