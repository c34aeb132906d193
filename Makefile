# vpe.hypervisor: `make demo` and `make test` are the two commands a new user runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_VERSION := 26.3
COLLECTIONS := .collections
LINK := $(COLLECTIONS)/ansible_collections/vpe/hypervisor
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLLECTIONS)
export PYTHONPATH := $(CURDIR)/$(COLLECTIONS)
# pyenv's interpreters for the other supported controllers (make matrix)
PYENV_VERSIONS := $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions
PY312 ?= $(firstword $(wildcard $(PYENV_VERSIONS)/3.12*/bin/python3.12 /usr/bin/python3.12))
PY313 ?= $(firstword $(wildcard $(PYENV_VERSIONS)/3.13*/bin/python3.13 /usr/bin/python3.13))
# MATRIX=required (CI) fails when one of them is missing; by default it is skipped with a notice.
MATRIX ?= optional

.PHONY: help system venv link libvirtd test check unit integration system-tests playbooks api ui reliability roles \
        fuzz-long reliability-doc sanity compat docs changelog lint units-installed release-check \
        matrix matrix-2.20 matrix-2.21 lock demo demo-clean clean bench bench-short bench-metrics \
        bench-pools bench-inventory bench-peer-venv bench-tools

help:
	@echo "make demo          set up and start a shim on this host's libvirt, show it answering"
	@echo "make test          set up everything (system packages, libvirtd, venvs) and run every tier below"
	@echo "make check         the tiers that need neither root nor libvirtd: sanity compat docs changelog lint unit"
	@echo
	@echo "tiers (each also runs alone):"
	@echo "  sanity           ansible-test sanity on a copy of the tree"
	@echo "  compat           module_utils and modules parse on Python 3.8 (vermin)"
	@echo "  docs             ansible-doc renders every module"
	@echo "  changelog        antsibull-changelog lint of the fragments"
	@echo "  lint             ansible-lint (production profile) of roles, playbooks, molecule"
	@echo "  release-check    build the tarball; galaxy-importer (with ansible-lint), antsibull-docs, EE introspection"
	@echo "  units-installed  ansible-test units from the built collection installed in a temp tree"
	@echo "  matrix           unit + playbook tiers on ansible-core 2.20/Python 3.12 and 2.21/Python 3.13"
	@echo "  integration      ansible-test integration --local: tests/integration/targets/vpe_* on this host (root + libvirtd)"
	@echo "  unit system-tests playbooks api ui reliability roles   pytest tiers (all but unit need root + libvirtd)"
	@echo
	@echo "other:"
	@echo "  system           install the Debian packages every tier needs (root)"
	@echo "  venv link libvirtd   the dev venv, the collection link, a running libvirtd"
	@echo "  lock             re-resolve requirements/*.txt and rewrite the requirements/*.lock pins"
	@echo "  fuzz-long        schemathesis with a large budget; reliability-doc renders docs/reliability.md"
	@echo "  bench bench-short bench-metrics bench-pools bench-inventory   benchmarks (bench/README.md); not part of make test"
	@echo "  lab lab-test lab-down lab-ci lab-status lab-bench   the VM lab: 3 Debian VMs under systemd over SSH (lab/README.md)"
	@echo "  demo-clean clean"

system:
	@scripts/ensure-system-packages.sh all

# A venv of requirements/REQ.txt pinned by requirements/LOCK.lock (every
# package, transitive ones too): $(call mkvenv,DIR,PYTHON,REQ,LOCK)
define mkvenv
	@scripts/ensure-system-packages.sh build
	rm -rf $(1)
	$(2) -m venv $(1)
	$(1)/bin/python -m pip install -q pip==$(PIP_VERSION)
	$(1)/bin/python -m pip install -q -r requirements/$(3).txt -c requirements/$(4).lock
	touch $(1)/.installed
endef

$(VENV)/.installed: requirements/dev.txt requirements/dev.lock
	$(call mkvenv,$(VENV),$(PYTHON),dev,dev)

venv: $(VENV)/.installed

link:
	@mkdir -p $(dir $(LINK))
	@[ -L $(LINK) ] || ln -sfn ../../.. $(LINK)

libvirtd:
	scripts/ensure-libvirtd.sh

# The venvs first, all at once (pip waits on unpacking and building more than
# on the CPU); then two lanes at once (scripts/test.sh): the static checks
# beside the libvirtd tiers.
TEST_VENVS := $(VENV)/.installed .venv-release/.installed \
	$(if $(PY312),.venv-2.20/.installed) $(if $(PY313),.venv-2.21/.installed)

test: system link libvirtd
	$(MAKE) --no-print-directory -j4 $(TEST_VENVS)
	PY=$(PY) MAKE=$(MAKE) scripts/test.sh

check: venv link sanity compat docs changelog lint unit

unit: venv link
	$(PY) -m pytest tests/unit

# The modules' behaviour as a user runs them: ansible-test's targets, on a copy of the tree.
integration: venv link libvirtd
	scripts/integration.sh

# pytest against the real libvirtd and network namespaces: needs root.
system-tests: venv link libvirtd
	$(PY) -m pytest tests/system

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
# ANSIBLE_HOME of its own: a vpe.hypervisor installed in ~/.ansible/collections
# (an older release) would otherwise be what it resolves our modules against.
lint: venv link
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH ANSIBLE_HOME=$(CURDIR)/.ansible-home $(VENV)/bin/ansible-lint

sanity: venv
	scripts/sanity.sh

# module_utils and modules run on the managed host: Python 3.8 and later.
compat: venv
	$(VENV)/bin/vermin -q -t=3.8- --violations --no-tips plugins/

# ansible-doc exits 1 on broken docs (and 0 for a plugin it cannot find: the
# names come from the tree, so each one exists).
docs: venv link
	@for m in $$(ls plugins/modules/*.py | xargs -n1 basename | sed 's/\.py$$//'); do \
	  $(VENV)/bin/ansible-doc vpe.hypervisor.$$m >/dev/null || exit 1; done; \
	for t in inventory filter; do for p in $$(ls plugins/$$t/*.py | xargs -n1 basename | sed 's/\.py$$//'); do \
	  $(VENV)/bin/ansible-doc -t $$t vpe.hypervisor.$$p >/dev/null || exit 1; done; done; \
	echo "ansible-doc renders every module, inventory and filter plugin"

changelog: venv
	$(VENV)/bin/antsibull-changelog lint

# The artifact a user installs, judged by Galaxy's own importer and antsibull-docs.
.venv-release/.installed: requirements/release.txt requirements/release.lock
	$(call mkvenv,.venv-release,$(PYTHON),release,release)

release-check: .venv-release/.installed
	scripts/release-check.sh

units-installed: venv
	scripts/units-installed.sh

# The other supported controllers: ansible-core 2.20 on Python 3.12, 2.21 on 3.13.
.venv-2.20/.installed: requirements/matrix.txt requirements/ansible-2.20.lock
	@[ -n "$(PY312)" ] || { echo "Python 3.12 not found (set PY312=...)" >&2; exit 1; }
	$(call mkvenv,.venv-2.20,$(PY312),matrix,ansible-2.20)
.venv-2.21/.installed: requirements/matrix.txt requirements/ansible-2.21.lock
	@[ -n "$(PY313)" ] || { echo "Python 3.13 not found (set PY313=...)" >&2; exit 1; }
	$(call mkvenv,.venv-2.21,$(PY313),matrix,ansible-2.21)

matrix: matrix-2.20 matrix-2.21

matrix-2.20 matrix-2.21: matrix-%: link libvirtd
	@py=$(if $(filter 2.20,$*),$(PY312),$(PY313)); \
	if [ -z "$$py" ]; then \
	  if [ "$(MATRIX)" = required ]; then echo "ansible-core $*: its Python is missing" >&2; exit 1; fi; \
	  echo "SKIP matrix-$*: no Python $(if $(filter 2.20,$*),3.12,3.13) here (pyenv install it, or MATRIX=required to fail)"; exit 0; fi; \
	$(MAKE) --no-print-directory .venv-$*/.installed && \
	VPE_TEST_CLEANUP=1 .venv-$*/bin/python -m pytest -p no:cacheprovider -q tests/unit tests/playbooks

# Re-resolve every requirements/NAME.txt in a scratch venv and write requirements/NAME.lock.
lock:
	scripts/lock.sh

demo: venv link
	scripts/demo.sh

demo-clean:
	scripts/demo.sh clean

# Not part of `make test`: query time per range on a 62-day store, collector CPU, store size.
bench-metrics: venv link libvirtd
	$(PY) bench/metrics/bench_metrics.py

# Not part of make test: inventory build time over 8, 32 and 128 stand-in shims (bench/README.md).
bench-inventory: venv link
	$(PY) bench/inventory/bench_inventory.py

# 20 pools x 500 volumes: GET /hypervisor/pools and vpe_facts against du -s and
# community.libvirt's virt_pool (peer venv bench/out/.venv-peer); writes bench/README.md.
bench-pools: venv link libvirtd
	$(PY) bench/pools/bench_pools.py

# Not part of `make test`: the performance suite (bench/run.py): module overhead
# against community.libvirt and ping, fleet scaling, shim req/s and latency
# against a constant endpoint; writes its table to bench/README.md. Needs root.
BENCH_PEER := bench/out/.venv-peer

$(BENCH_PEER)/.installed: bench/requirements-peer.txt bench/requirements-peer.lock
	$(call mkvenv,$(BENCH_PEER),$(PYTHON),../bench/requirements-peer,../bench/requirements-peer)

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
	rm -rf $(VENV) .venv-release .venv-2.20 .venv-2.21 $(COLLECTIONS) .sanity .pytest_cache tests/output

# The VM lab: make lab, lab-test, lab-down, lab-ci, lab-bench (lab/lab.mk, lab/README.md).
include lab/lab.mk
