"""The lab tier: runs only against a running lab (make lab-test / make lab-ci)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtier as lab  # noqa: E402 (tests/lab is not on the suite's pythonpath)


def pytest_collection_modifyitems(config, items):
    if os.environ.get('VPE_LAB') != '1':
        skip = pytest.mark.skip(reason='the lab tier runs with make lab-test (VPE_LAB=1)')
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope='session', autouse=True)
def running_lab():
    if os.environ.get('VPE_LAB') != '1':
        return
    if not os.path.exists(os.path.join(lab.OUT, 'converged')):
        pytest.exit('the lab is not up and converged: make lab', returncode=2)


def pytest_generate_tests(metafunc):
    if 'host' in metafunc.fixturenames:
        names = list(lab.hosts()) if os.path.exists(os.path.join(lab.OUT, 'inventory.yml')) else ['hv1', 'hv2', 'hv3']
        metafunc.parametrize('host', names)
