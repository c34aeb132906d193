"""module_utils is grouped into subpackages by subsystem. A collection needs no
__init__.py there, and one that carries code would ship and run in the payload
of every module that imports anything from its subpackage."""

import os

import vpetest

MODULE_UTILS = vpetest.REPO / 'plugins' / 'module_utils'


def _init_files():
    return [os.path.join(d, '__init__.py') for d, _dirs, files in os.walk(str(MODULE_UTILS)) if '__init__.py' in files]


def _code_lines(path):
    """Lines that are neither blank nor comments (the sanity header is comments)."""
    return [line for line in open(path) if line.strip() and not line.lstrip().startswith('#')]


def test_no_subpackage_init_carries_code():
    assert [path for path in _init_files() if _code_lines(path)] == []


def test_the_check_sees_a_code_carrying_init(tmp_path):
    """The check above passes on an empty tree too; this one shows it finds code."""
    init = tmp_path / '__init__.py'
    init.write_text('# -*- coding: utf-8 -*-\nfrom .core import context\n')
    assert _code_lines(str(init)) == ['from .core import context\n']


def test_module_utils_is_grouped_in_subpackages():
    """No flat files left at the top, so a reader finds code by its subsystem."""
    top = sorted(p.name for p in MODULE_UTILS.iterdir() if p.suffix == '.py' and p.name != '__init__.py')
    subpackages = sorted(p.name for p in MODULE_UTILS.iterdir() if p.is_dir() and p.name != '__pycache__')
    assert top == []
    assert {'core', 'quota', 'storage', 'network', 'metrics'} <= set(subpackages)
