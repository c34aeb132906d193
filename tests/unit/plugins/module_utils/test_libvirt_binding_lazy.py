"""core/libvirt_conn imports libvirt's binding on first use only, names the
libvirt values the read paths need without it, and where the binding is
missing says what to install instead of failing at import."""

import json
import subprocess
import sys

import libvirt

import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import libvirt_conn, libvirt_wire


def test_the_values_named_without_the_binding_are_the_bindings():
    for module, count in ((libvirt_conn, 10), (libvirt_wire, 3)):
        names = [name for name in dir(module) if name.startswith('VIR_')]
        assert len(names) >= count
        assert dict((name, getattr(module, name)) for name in names) == \
            dict((name, getattr(libvirt, name)) for name in names)


PROBE = '''
import json, sys
if sys.argv[1] == 'missing':
    sys.modules['libvirt'] = None  # as on a host without python3-libvirt
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import libvirt_conn, libvirt_wire
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import MissingLibrary
seen = {'after_import': 'libvirt' in sys.modules and sys.modules['libvirt'] is not None}
try:
    libvirt_conn.libvirt.open
    seen['open'] = 'found'
except MissingLibrary as exc:
    seen['open'] = str(exc)
seen['error_class'] = libvirt_conn.libvirt.libvirtError.__name__
seen['loaded'] = sys.modules.get('libvirt') is not None
print(json.dumps(seen))
'''


def _probe(mode):
    env = vpetest.shim_env()  # the collection importable, as for the shim
    return json.loads(subprocess.run([sys.executable, '-c', PROBE, mode], env=env, capture_output=True, text=True,
                                     check=True).stdout)


def test_the_binding_loads_on_first_use_only():
    seen = _probe('present')
    assert seen == {'after_import': False, 'open': 'found', 'error_class': 'libvirtError', 'loaded': True}


def test_without_the_binding_a_use_says_what_to_install():
    seen = _probe('missing')
    assert seen['after_import'] is False and seen['loaded'] is False
    assert 'install python3-libvirt' in seen['open']
    assert seen['error_class'] == '_NoBinding'  # `except libvirt.libvirtError` stays harmless
