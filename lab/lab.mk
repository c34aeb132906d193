# The VM lab (issue 16): 3 Debian 12 hypervisors under QEMU/TCG in a network
# namespace of their own, converged over SSH with the installed collection.
# Included by the Makefile. Root on Debian; lab/host-deps.sh installs the host
# side's packages with apt-get. See lab/README.md.
.PHONY: lab lab-test lab-down lab-ci lab-status lab-bench

LAB_PYTEST := VPE_LAB=1 $(PY) -m pytest -p no:cacheprovider --durations=0

# build/reuse the image, boot hv1..hv3, converge with playbooks/site.yml; the VMs stay up
lab: venv
	lab/up.sh

lab-status:
	@lab/status.sh

# the lab tier (tests/lab); brings the lab up first when it is not
lab-test: venv
	@lab/status.sh >/dev/null 2>&1 && [ -f lab/out/converged ] || lab/up.sh
	$(LAB_PYTEST) tests/lab

# stop every VM, remove the namespace and lab/out (the image cache stays)
lab-down:
	lab/down.sh

# CI: lab (a boot timeout is retried once), the lab tier, and lab-down whatever happened
lab-ci: venv
	lab/ci.sh

# fleet converge over SSH: this collection's role vs community.libvirt (bench/lab)
lab-bench: venv bench-peer-venv
	@lab/status.sh >/dev/null 2>&1 && [ -f lab/out/converged ] || lab/up.sh
	$(PY) bench/lab/bench_lab.py
