"""The reliability tier: contract fuzzing, bad input, auth, concurrency,
crashes and a libvirtd restart under load (see docs/reliability.md)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import relkit  # noqa: E402  (needs the path above)


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'libvirtd_restart: stops and restarts the real libvirtd (deselect with -m "not libvirtd_restart")')
    config.addinivalue_line('markers', 'reliability: the reliability tier (tests/reliability)')


def pytest_collection_modifyitems(items):
    for item in items:
        if '/tests/reliability/' in str(item.fspath):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope='session', autouse=True)
def _no_rel_pools_left():
    relkit.remove_rel_pools()
    yield
    relkit.remove_rel_pools()
