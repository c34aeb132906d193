"""Helpers of the reliability tier: the route list (from the spec and from the
app), host snapshots that must not change, problem+json checks and the run
counters that docs/reliability.md is rendered from."""

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import stat
import tempfile
import time
from pathlib import Path

import libvirt
import yaml

import vpetest

REPO = vpetest.REPO
SPEC_PATH = REPO / 'api_shim' / 'openapi.yaml'
OUTPUT = REPO / 'tests' / 'output' / 'reliability.json'
# Everything this tier creates in libvirt or on disk starts with this.
REL = vpetest.PREFIX + 'rel'
PROBLEM = 'application/problem+json'
# Routes that need no token (the spec says `security: []` for exactly these):
# health, the OpenAPI document and the static host page (it holds no data).
OPEN_PATHS = {'/healthz', '/openapi.json'}
OPEN_PREFIXES = ('/ui',)


def open_path(path):
    return path in OPEN_PATHS or any(path == p or path.startswith(p + '/') for p in OPEN_PREFIXES)


TREE = '@TREE@'  # replaced by a test's own directory tree
# A valid body per operation; each case breaks exactly one thing in it. The
# network body names an interface that does not exist, so even a validation
# bug could not reconfigure the host's network.
BASE_BODIES = {
    ('PUT', '/hypervisor/quota'): {'cpu_max': 64, 'memory_max_mb': 65536},
    ('PUT', '/hypervisor/network'): {'bridge': 'vpetrelbr0', 'bridge_interface': 'vpetrelnic0'},
    ('PUT', '/hypervisor/image-pool'): {'path': TREE + '/images', 'max_gb': 5},
    ('POST', '/hypervisor/pools'): {'name': REL + '-new', 'path': TREE + '/pools/new', 'max_gb': 5},
    ('PUT', '/hypervisor/pools/{uuid}'): {'max_gb': 7},
}

METHODS = ('get', 'put', 'post', 'delete', 'patch')
SYSTEM_DIRS = ('/bin', '/boot', '/dev', '/etc', '/lib', '/proc', '/run', '/sbin', '/sys', '/usr')


# -- the spec and the app -------------------------------------------------------

@functools.lru_cache(maxsize=None)
def load_spec():
    """The parsed spec (cached: callers must not change it)."""
    return yaml.safe_load(SPEC_PATH.read_text())


def resolve(spec, node):
    """`node` with a top-level $ref followed (recursively)."""
    while isinstance(node, dict) and '$ref' in node:
        target = spec
        for part in node['$ref'].lstrip('#/').split('/'):
            target = target[part.replace('~1', '/').replace('~0', '~')]
        node = target
    return node


def spec_operations(spec=None):
    """[(METHOD, path, operation)] for every operation in the spec."""
    spec = spec or load_spec()
    ops = []
    for path, item in sorted(spec['paths'].items()):
        for method in METHODS:
            if method in item:
                ops.append((method.upper(), path, item[method]))
    return ops


def app_routes(tmp_dir):
    """{(METHOD, path)} the Bottle app serves, with <x> written as {x}."""
    from ansible_collections.vpe.hypervisor.api_shim.app import create_app
    from ansible_collections.vpe.hypervisor.api_shim.auth import Authenticator
    from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context
    ctx = Context(uri='test:///default', state_dir=str(tmp_dir))
    try:
        app = create_app(ctx, Authenticator([('admin', b'x' * 32)]))
        return {(route.method.upper(), re.sub(r'<([^>:]+)(:[^>]*)?>', r'{\1}', route.rule))
                for route in app.routes}
    finally:
        ctx.close()


def request_schema(spec, op):
    """(envelope key, {field: schema}, [required fields]) of a JSON request body, or None."""
    body = resolve(spec, op.get('requestBody'))
    if not body:
        return None
    schema = resolve(spec, body['content']['application/json']['schema'])
    props = schema.get('properties') or {}
    if len(props) != 1:
        return None
    key = next(iter(props))
    inner = resolve(spec, props[key])
    fields = {name: resolve(spec, sub) for name, sub in (inner.get('properties') or {}).items()}
    return key, fields, list(inner.get('required') or [])


def query_parameters(spec, op, path_item=None):
    params = [resolve(spec, p) for p in (op.get('parameters') or []) + ((path_item or {}).get('parameters') or [])]
    return [p for p in params if p.get('in') == 'query']


def is_open(op):
    return op.get('security') == []


# -- problem+json ---------------------------------------------------------------

def assert_problem(resp, status=None, field=None):
    """A 4xx problem document (of `status` if given) naming `field` if given."""
    if status is None:
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:500])
    else:
        assert resp.status_code == status, (resp.status_code, resp.text[:500])
    assert resp.headers.get('Content-Type', '').startswith(PROBLEM), resp.headers
    doc = resp.json()
    assert doc['status'] == resp.status_code and doc['title'] and doc['detail'], doc
    if field is not None:
        assert doc.get('field') == field, 'expected field %r, got %r' % (field, doc)
    return doc


# -- host snapshots ---------------------------------------------------------------

_VOLATILE = re.compile(r'<(capacity|allocation|available)[^>]*>[^<]*</\1>')


# Objects of other suites that may run beside this one on a developer's host
# (other test tiers, the benchmarks). CI runs one suite at a time.
FOREIGN_PREFIXES = (vpetest.PREFIX, 'vpebench')
FOREIGN_INTERFACES = ('vb', 'vt', 'vpetest', 'vpt')


def _mine_or_foreign(name):
    """True for objects this tier must watch: everything but other suites' objects."""
    return not name.startswith(FOREIGN_PREFIXES) or name.startswith(REL)


def _other_tests_pool(xml, mine):
    """A pool another test made in its own temp dir (the image store is one
    global name, so its tests cannot prefix it)."""
    found = re.search(r'<path>([^<]*)</path>', xml)
    path = found.group(1) if found else ''
    tmps = (tempfile.gettempdir().rstrip('/') + '/', '/var/tmp/')
    inside_mine = any(path.startswith(str(m).rstrip('/') + '/') or path == str(m) for m in mine)
    return path.startswith(tmps) and not inside_mine


def libvirt_objects(uri=vpetest.SYSTEM_URI, mine=()):
    """{kind/name: XML} of every domain, pool and network (no prefix filter,
    except other test tiers' own objects: prefixed ones, and pools in other
    tests' temp dirs, not under `mine`); free-space figures stripped."""
    conn = libvirt.open(uri)
    out = {}

    def take(key, fetch):
        try:
            out[key] = fetch()
        except libvirt.libvirtError:
            pass  # gone between the listing and the dump: another test's object

    try:
        for dom in conn.listAllDomains(0):
            if _mine_or_foreign(dom.name()):
                take('domain/' + dom.name(), lambda: dom.XMLDesc(0))
        for pool in conn.listAllStoragePools(0):
            if not _mine_or_foreign(pool.name()):
                continue
            try:
                xml = pool.XMLDesc(0)
                if not _other_tests_pool(xml, mine):
                    out['pool/' + pool.name()] = _VOLATILE.sub('', xml) + ' active=%d autostart=%d' % (
                        pool.isActive(), pool.autostart())
            except libvirt.libvirtError:
                pass
        for net in conn.listAllNetworks(0):
            if _mine_or_foreign(net.name()):
                take('network/' + net.name(), lambda: net.XMLDesc(0) + ' active=%d' % net.isActive())
        return out
    finally:
        conn.close()


def tree(root):
    """{relative path: (kind, mode, size, sha256 or link target)} under root."""
    root = Path(root)
    out = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            info = full.lstat()
            rel = str(full.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                out[rel] = ('link', os.readlink(full))
            elif stat.S_ISDIR(info.st_mode):
                out[rel] = ('dir', stat.S_IMODE(info.st_mode))
            else:
                out[rel] = ('file', stat.S_IMODE(info.st_mode), info.st_size,
                            hashlib.sha256(full.read_bytes()).hexdigest())
    return out


def system_listing():
    """Top-level names of the system directories a bad path could land in."""
    out = {}
    for directory in SYSTEM_DIRS + ('/', '/tmp', '/var/lib/libvirt'):
        try:
            out[directory] = sorted(n for n in os.listdir(directory) if REL in n or '..' in n)
        except OSError:
            out[directory] = None
    return out


def interfaces():
    return sorted(n for n in os.listdir('/sys/class/net') if not n.startswith(FOREIGN_INTERFACES))


def snapshot(state_dir, *roots):
    """Everything a bad request could have touched."""
    state_file = Path(state_dir) / 'state.json'
    return {
        'libvirt': libvirt_objects(mine=(state_dir,) + roots),
        'state_file': state_file.read_bytes() if state_file.exists() else None,
        # the audit log grows with every refused change, by design (test_audit.py)
        'state_dir': {k: v for k, v in tree(state_dir).items() if k != 'audit.log'},
        'trees': {str(r): tree(r) for r in roots},
        'system': system_listing(),
        'interfaces': interfaces(),
    }


def snapshot_diff(before, after):
    """Human-readable differences between two snapshots ([] when identical)."""
    diffs = []
    for key in before:
        if before[key] == after[key]:
            continue
        if isinstance(before[key], dict):
            for sub in sorted(set(before[key]) | set(after[key])):
                if before[key].get(sub) != after[key].get(sub):
                    diffs.append('%s[%s]: %r -> %r' % (key, sub, before[key].get(sub), after[key].get(sub)))
        else:
            diffs.append('%s: %r -> %r' % (key, before[key], after[key]))
    return diffs


# -- libvirt cleanup --------------------------------------------------------------

def remove_rel_pools(uri=vpetest.SYSTEM_URI):
    """Stop and undefine this tier's pools (never deletes their directories)."""
    conn = libvirt.open(uri)
    try:
        for pool in conn.listAllStoragePools(0):
            if pool.name().startswith(REL):
                try:
                    vpetest.stop_and_undefine(pool)
                except libvirt.libvirtError:
                    pass
    finally:
        conn.close()


def rel_pools(uri=vpetest.SYSTEM_URI):
    """{name: (uuid, path)} of this tier's pools as libvirt sees them."""
    conn = libvirt.open(uri)
    try:
        out = {}
        for pool in conn.listAllStoragePools(0):
            if pool.name().startswith(REL):
                path = re.search(r'<path>([^<]*)</path>', pool.XMLDesc(0))
                out[pool.name()] = (pool.UUIDString(), path.group(1) if path else None)
        return out
    finally:
        conn.close()


# -- counters -----------------------------------------------------------------------

def record(section, **counters):
    """Merge this run's counters for `section` into tests/output/reliability.json."""
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with open(str(OUTPUT) + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            doc = json.loads(OUTPUT.read_text())
        except (OSError, ValueError):
            doc = {}
        counters['recorded_at'] = time.strftime('%Y-%m-%d %H:%M:%S')
        counters['load_average'] = round(os.getloadavg()[0], 1)  # other work on the host slows every figure
        doc[section] = counters
        tmp = OUTPUT.with_suffix('.tmp')
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + '\n')
        os.replace(tmp, OUTPUT)


@contextlib.contextmanager
def shim_at(workdir, **kwargs):
    Path(workdir).mkdir(parents=True, exist_ok=True)
    server = vpetest.Shim(workdir, **kwargs)
    try:
        yield server
    finally:
        server.stop()
