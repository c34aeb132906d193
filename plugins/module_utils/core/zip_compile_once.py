# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compile each of our module_utils files once when they are imported from a
zip (an AnsiballZ payload), and keep the bytecode on the host for the next
run.

A module payload carries no bytecode, so Python compiles every file a
module imports on every run, and CPython's zipimport compiles each one
TWICE (3.8 to 3.13): finding it (find_spec -> spec_from_loader ->
zipimporter.get_filename) compiles it to learn its file name, and loading it
(exec_module or load_module -> get_code) compiles it again. Compiling is
most of what our module_utils cost a module run.

Importing this module installs, only when it was itself loaded by a
zipimporter, a meta path finder for `ansible_collections.vpe.hypervisor.
plugins.module_utils.*` (plain modules, not packages) that serves them from
the same zip: the file name without compiling, and the code from the
bytecode cache when it holds this exact source (its hash), else compiled
once and written there. Every plugins/modules/vpe_*.py imports it first: a
module is the only code of ours that runs before the other module_utils
imports.

The cache is what Python's __pycache__ is for installed code: one file per
module, `~/.cache/vpe.hypervisor/bytecode/<python>/` of the user the module
runs as (XDG_CACHE_HOME is honoured), keyed by the interpreter's bytecode
magic number and the source's hash, so another collection version or Python
never loads a stale entry. It is used only when that directory is the
user's own and writable by nobody else, and each file only when it is owned
by the user; entries are written whole (a temporary file renamed).
VPE_HYPERVISOR_BYTECODE_CACHE names another directory, or `off`.

Installing it also freezes the heap the payload process holds at that point
(gc.freeze: Ansible's module_utils, the AnsiballZ wrapper, the standard
library), which lives until the process exits: the collector then only walks
what the module itself allocates, and the full collection Python runs when
the process exits skips the frozen objects (about 10 ms of every module run
here: bench/suite/NOTES.md). Python does not promise to finalize objects that
still exist at exit, and nothing of Ansible's relies on it (its cleanups are
atexit handlers, which run first).

Outside a zip (the shim, the tests: the normal path finder reads .pyc files
there) it does nothing. Anything unexpected (no zipimporter for the path, a
name the zip does not hold, a package) returns None from find_spec, and the
normal import machinery takes over as if this module did not exist; a cache
that cannot be read or written only means compiling.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import gc
import marshal
import os
import stat
import sys
import zipimport

PREFIX = 'ansible_collections.vpe.hypervisor.plugins.module_utils.'
CACHE_ENV = 'VPE_HYPERVISOR_BYTECODE_CACHE'
_NO_DIR = object()
_cache = {'dir': None}  # the checked directory (or _NO_DIR), once per process


def cache_dir():
    """The bytecode directory for this interpreter, made if missing; None
    where there must be none."""
    if _cache['dir'] is None:
        _cache['dir'] = _checked_dir() or _NO_DIR
    return None if _cache['dir'] is _NO_DIR else _cache['dir']


def _checked_dir():
    configured = os.environ.get(CACHE_ENV, '')
    if configured == 'off' or not getattr(sys.implementation, 'cache_tag', None):
        return None
    base = configured or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache'), 'vpe.hypervisor', 'bytecode')
    path = os.path.join(base, sys.implementation.cache_tag)
    if not os.path.isabs(path):
        return None  # no home directory to expand ~ to
    try:
        if not os.path.isdir(path):
            os.makedirs(path, 0o700)
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        return None
    return path


def _key(source):
    from importlib.util import MAGIC_NUMBER, source_hash
    return MAGIC_NUMBER + source_hash(source)


def _read(path, key):
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, 'rb') as handle:
            if os.fstat(handle.fileno()).st_uid != os.geteuid():
                return None
            data = handle.read()
        if data[:len(key)] != key:
            return None
        return marshal.loads(data[len(key):])
    except (OSError, EOFError, ValueError, TypeError):
        return None


def _write(path, data):
    # Not core/atomic_file: that is change code, kept out of the facts payload,
    # and a cache entry needs no fsync (a torn one fails its key and is rewritten).
    temp = '%s.%d.tmp' % (path, os.getpid())
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, 'O_NOFOLLOW', 0), 0o600)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
        os.rename(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass


def bytecode(source, filename, fullname):
    """The code object of `source` (bytes) as compiled under `filename`: from
    the cache when it holds this source, else compiled and kept there."""
    directory = cache_dir()
    if directory is None:
        return compile(source, filename, 'exec', dont_inherit=True)
    key = _key(source)
    path = os.path.join(directory, fullname + '.pyc')
    code = _read(path, key)
    if code is not None and _fix_filename(code, filename):
        return code
    code = compile(source, filename, 'exec', dont_inherit=True)
    if not sys.dont_write_bytecode:  # PYTHONDONTWRITEBYTECODE: read what is kept, keep nothing new
        _write(path, key + marshal.dumps(code))
    return code


def _fix_filename(code, filename):
    """Point the cached code (every nested function too) at this run's file,
    as importlib does for a .pyc; False where this Python cannot."""
    if code.co_filename == filename:
        return True
    try:
        import _imp
        _imp._fix_co_filename(code, filename)  # pylint: disable=protected-access
    except (ImportError, AttributeError):
        return False
    return code.co_filename == filename


class OnceLoader(object):
    """A zipimporter's loader for one module: its file name without
    compiling, its code compiled once or from the bytecode cache."""

    def __init__(self, importer, fullname):
        self.importer = importer
        self.fullname = fullname

    def get_filename(self, fullname):
        # The path zipimporter.get_filename() gives, and compiles the source under.
        return os.path.join(self.importer.archive, self.importer.prefix + fullname.rpartition('.')[2] + '.py')

    def get_code(self, fullname):
        if fullname != self.fullname:
            return self.importer.get_code(fullname)
        filename = self.get_filename(fullname)
        return bytecode(self.importer.get_data(filename), filename, fullname)

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
        gc.freeze()  # Python 3.7+; module_utils run on 3.8+
    return True


install()
