# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compile each of our module_utils files once when they are imported from a
zip: an AnsiballZ payload.

A module payload carries no bytecode, so Python compiles every file a
module imports on every run, and CPython's zipimport compiles each one
TWICE (3.8 to 3.13): finding it (find_spec -> spec_from_loader ->
zipimporter.get_filename) compiles it to learn its file name, and loading it
(exec_module or load_module -> get_code) compiles it again.

Importing this module installs, only when it was itself loaded by a
zipimporter, a meta path finder for `ansible_collections.vpe.hypervisor.
plugins.module_utils.*` (plain modules, not packages) that wraps the same
zipimporter in a loader keeping the code object get_filename() compiled
until get_code()/exec_module() asks for it. Every plugins/modules/vpe_*.py
imports it first: a module is the only code of ours that runs before the
other module_utils imports.

Outside a zip (the shim, the tests: the normal path finder reads .pyc files
there) it does nothing. Anything unexpected (no zipimporter for the path, a
name the zip does not hold, a package) returns None from find_spec, and the
normal import machinery takes over as if this module did not exist.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sys
import zipimport

PREFIX = 'ansible_collections.vpe.hypervisor.plugins.module_utils.'


class OnceLoader(object):
    """A zipimporter's loader for one module, compiling it once."""

    def __init__(self, importer, fullname):
        self.importer = importer
        self.fullname = fullname
        self._code = None

    def _compiled(self, fullname):
        if fullname != self.fullname:
            return self.importer.get_code(fullname)
        if self._code is None:
            self._code = self.importer.get_code(fullname)
        return self._code

    def get_filename(self, fullname):
        # The path zipimporter.get_filename() gives: the one it compiles the source under.
        return self._compiled(fullname).co_filename

    def get_code(self, fullname):
        code = self._compiled(fullname)
        if fullname == self.fullname:
            self._code = None  # used once: a reload compiles afresh
        return code

    def is_package(self, fullname):
        return self.importer.is_package(fullname)

    def get_source(self, fullname):
        return self.importer.get_source(fullname)

    def get_data(self, pathname):
        return self.importer.get_data(pathname)

    def create_module(self, spec):
        return None  # the default module creation

    def exec_module(self, module):
        exec(self.get_code(module.__name__), module.__dict__)  # pylint: disable=exec-used


class OnceFinder(object):
    """Finds our module_utils modules in the zip their package came from."""

    def __init__(self):
        self._importers = {}

    def _importer(self, entry):
        importer = sys.path_importer_cache.get(entry)
        if isinstance(importer, zipimport.zipimporter):
            return importer
        if entry not in self._importers:
            try:
                self._importers[entry] = zipimport.zipimporter(entry)
            except (zipimport.ZipImportError, OSError, TypeError, ValueError):
                self._importers[entry] = None
        return self._importers[entry]

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(PREFIX) or not path:
            return None
        try:
            from importlib.util import spec_from_loader
            for entry in path:
                importer = self._importer(entry)
                if importer is None:
                    return None  # not from a zip: the normal finders
                try:
                    if importer.is_package(fullname):
                        return None  # an (empty) __init__: not worth serving
                except zipimport.ZipImportError:
                    continue  # not in this entry
                return spec_from_loader(fullname, OnceLoader(importer, fullname))
        except Exception:  # pylint: disable=broad-except
            # Whatever went wrong (a broken zip, a syntax error) the normal
            # import hits again and reports the way it always does.
            return None
        return None

    def invalidate_caches(self):
        self._importers = {}


def install():
    """Put a OnceFinder first on sys.meta_path if this module came from a
    zip; True when one is there."""
    if not isinstance(globals().get('__loader__'), zipimport.zipimporter):
        return False
    if not any(isinstance(finder, OnceFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, OnceFinder())
    return True


install()
