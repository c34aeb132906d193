# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vpe-quota: a libvirt qemu hook that refuses a domain start beyond the quota.

This file is installed, with a shebang and SETTINGS filled in, as
/etc/libvirt/hooks/qemu.d/vpe-quota (quota_hook_apply does that). libvirtd runs
it for every qemu domain event as `vpe-quota NAME OP SUBOP EXTRA` with the
domain's XML on stdin. It uses the standard library only (no ansible on the
host's path) and never calls libvirt: libvirtd waits for it and a call back
would deadlock.

On `prepare begin` (every start, and a restore's or an incoming migration's
start), `migrate begin` and `restore begin` it adds the starting domain's
vCPUs and memory to what the quota's `enforce` mode counts:

- running: the domains running now, from libvirt's status files
  (RUN_DIR/*.xml, <domain> inside <domstatus>);
- defined: every defined domain, the persistent configs (CONFIG_DIR/*.xml)
  and the running ones (their live definition; transient ones included),
  one entry per uuid.

Over cpu_max or memory_max_mb, it exits 1 with a message on stderr that
libvirt hands to the client (virsh, the API). It prints nothing on stdout: for
migrate and restore, output would replace the domain's XML.

A start let through on `prepare begin` is reserved in
state_dir/quota-hook-starts.json until its status file appears, so two
domains starting at once see each other (judgments take turns under an
flock).

It fails open: when the state file cannot be read or holds no valid quota,
or the starting domain's XML cannot be parsed, the start goes ahead and the
reason is logged to syslog (ident vpe-quota), stderr and
state_dir/quota-hook.log. A broken state file must not block every start on
the host until someone notices.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sys

# Only sys here: libvirtd runs the hook for every event of every domain
# (start, started, stopped, release, ...) and only three of them are judged;
# the others must cost no more than starting the interpreter. What judging
# needs is imported where it is used.

SETTINGS = {}  # filled in when installed

# What SETTINGS may hold. host_cpus and host_memory_mb are libvirt's host size
# at install time, the limits where none was ever set.
DEFAULTS = {
    'state_dir': '/var/lib/vpe',
    'host_cpus': None,
    'host_memory_mb': None,
    'run_dir': '/run/libvirt/qemu',
    'config_dir': '/etc/libvirt/qemu',
    # Count and refuse only domains whose name starts with this (the tests'
    # way to leave other people's domains on a shared libvirtd alone).
    'name_prefix': '',
}
CHECKED = frozenset([('prepare', 'begin'), ('migrate', 'begin'), ('restore', 'begin')])
# Starts admitted but not yet in RUN_DIR: two domains starting at once must
# see each other. Kept in state_dir, judged under an flock, dropped when the
# domain's status file appears, when libvirt releases it (a start that
# failed) or after PENDING_SECONDS.
PENDING_FILE = 'quota-hook-starts.json'
PENDING_LOCK = 'quota-hook-starts.lock'
PENDING_SECONDS = 60
LOG_FILE = 'quota-hook.log'
LOG_MAX_BYTES = 1 << 20
MODES = ('running', 'defined')
NAMES_SHOWN = 8

# libvirt's memory units, in bytes.
UNITS = {
    'b': 1, 'bytes': 1,
    'kb': 1000, 'k': 1024, 'kib': 1024,
    'mb': 1000 ** 2, 'm': 1024 ** 2, 'mib': 1024 ** 2,
    'gb': 1000 ** 3, 'g': 1024 ** 3, 'gib': 1024 ** 3,
    'tb': 1000 ** 4, 't': 1024 ** 4, 'tib': 1024 ** 4,
    'pb': 1000 ** 5, 'p': 1024 ** 5, 'pib': 1024 ** 5,
    'eb': 1000 ** 6, 'e': 1024 ** 6, 'eib': 1024 ** 6,
}


class FailOpen(Exception):
    """Something we cannot judge by: let the start go ahead and log why."""


class Domain(object):

    def __init__(self, name, uuid, vcpus, memory_kib):
        self.name = name
        self.uuid = uuid
        self.vcpus = vcpus
        self.memory_kib = memory_kib


def parse_domain(element):
    """name, uuid, vCPUs (the current count) and memory (KiB) of a <domain>."""
    if element.tag == 'domstatus':
        element = element.find('domain')
        if element is None:
            raise ValueError('status XML without <domain>')
    if element.tag != 'domain':
        raise ValueError('not a <domain>, but <%s>' % element.tag)
    name = (element.findtext('name') or '').strip()
    uuid = (element.findtext('uuid') or '').strip().lower()
    vcpu = element.find('vcpu')
    memory = element.find('memory')
    if not name or vcpu is None or memory is None:
        raise ValueError('<domain> without name, vcpu or memory')
    vcpus = int(vcpu.get('current') or vcpu.text)
    unit = (memory.get('unit') or 'KiB').lower()
    if unit not in UNITS:
        raise ValueError('unknown memory unit %r' % unit)
    memory_kib = int(memory.text) * UNITS[unit] // 1024
    return Domain(name, uuid or name, vcpus, memory_kib)


def read_domains(directory, log):
    """The domains of the *.xml files in `directory`; a file that went away
    meanwhile (a domain stopping) or does not parse is skipped."""
    import os
    import xml.etree.ElementTree as ET
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith('.xml'))
    except OSError:
        return []
    found = []
    for path in (os.path.join(directory, name) for name in names):
        try:
            found.append(parse_domain(ET.parse(path).getroot()))
        except (IOError, OSError):
            continue
        except (ET.ParseError, ValueError, TypeError) as exc:
            log('skipping %s: %s' % (path, exc))
    return found


def read_quota(settings):
    """(enforce, cpu_max, memory_max_mb) from state_dir/state.json. A limit
    never set is the host's size as libvirt reported it when the hook was
    installed (quota.effective), kept in SETTINGS."""
    import json
    import os
    path = os.path.join(settings['state_dir'], 'state.json')
    try:
        with open(path) as handle:
            state = json.load(handle)
    except (IOError, OSError) as exc:
        raise FailOpen('cannot read %s: %s' % (path, exc.strerror or exc))
    except ValueError as exc:
        raise FailOpen('%s is not valid JSON: %s' % (path, exc))
    quota = state.get('quota') if isinstance(state, dict) else None
    if not isinstance(quota, dict):
        raise FailOpen('%s holds no quota object' % path)
    enforce = quota.get('enforce', 'off')
    if enforce == 'off':
        return 'off', None, None
    if enforce not in MODES:
        raise FailOpen('%s: quota.enforce is %r, not one of off, %s' % (path, enforce, ', '.join(MODES)))
    limits = []
    for name, host_key in (('cpu_max', 'host_cpus'), ('memory_max_mb', 'host_memory_mb')):
        value = quota.get(name, settings.get(host_key))
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise FailOpen('%s: quota.%s is %r, not an integer >= 1' % (path, name, value))
        limits.append(value)
    return enforce, limits[0], limits[1]


def counted(settings, enforce, starting, log, pending=None):
    """The other domains that count against the quota in this mode."""
    running = read_domains(settings['run_dir'], log)
    by_uuid = {}
    if enforce == 'defined':
        for dom in read_domains(settings['config_dir'], log):
            by_uuid[dom.uuid] = dom
    for dom in running:  # a running domain counts with its live definition
        by_uuid[dom.uuid] = dom
    if pending is not None:
        pending.forget(set(dom.uuid for dom in running) | set([starting.uuid]))
        for uuid, dom in pending.domains().items():
            by_uuid.setdefault(uuid, dom)
    by_uuid.pop(starting.uuid, None)  # it counts once, as it starts now
    prefix = settings['name_prefix']
    return [dom for _uuid, dom in sorted(by_uuid.items()) if dom.name.startswith(prefix)]


class Pending(object):
    """The starts admitted and not yet running, under an exclusive flock that
    also makes concurrent judgments take turns. Unusable (a read-only state
    dir), it holds nothing and says why: judging goes on without it."""

    def __init__(self, state_dir, log):
        import os
        self.path = os.path.join(state_dir, PENDING_FILE)
        self.lock_path = os.path.join(state_dir, PENDING_LOCK)
        self.log = log
        self.fd = None
        self.entries = {}
        self.changed = False

    def __enter__(self):
        import errno
        import fcntl
        import json
        import os
        try:
            self.fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o640)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            with open(self.path) as handle:
                entries = json.load(handle)
            self.entries = entries if isinstance(entries, dict) else {}
        except (IOError, OSError, ValueError) as exc:
            if getattr(exc, 'errno', None) != errno.ENOENT:  # nothing pending
                self.log('cannot use %s, judging without the starts in progress: %s' % (self.path, exc))
        return self

    def forget(self, uuids):
        import time
        now = time.time()
        for uuid in list(self.entries):
            entry = self.entries[uuid]
            if uuid in uuids or not isinstance(entry, dict) or not now - PENDING_SECONDS < entry.get('at', 0) <= now:
                del self.entries[uuid]
                self.changed = True

    def domains(self):
        found = {}
        for uuid, entry in self.entries.items():
            try:
                found[uuid] = Domain(str(entry['name']), uuid, int(entry['vcpus']), int(entry['memory_kib']))
            except (KeyError, TypeError, ValueError):
                continue
        return found

    def add(self, dom):
        import time
        self.entries[dom.uuid] = {'name': dom.name, 'vcpus': dom.vcpus, 'memory_kib': dom.memory_kib,
                                  'at': time.time()}
        self.changed = True

    def __exit__(self, *exc_info):
        import json
        import os
        try:
            if self.changed and self.fd is not None:
                if self.entries:
                    tmp = self.path + '.tmp'
                    with open(tmp, 'w') as handle:
                        json.dump(self.entries, handle)
                    os.rename(tmp, self.path)
                elif os.path.exists(self.path):
                    os.unlink(self.path)  # a release then costs one stat
        except (IOError, OSError) as exc:
            self.log('cannot write %s: %s' % (self.path, exc))
        finally:
            if self.fd is not None:
                os.close(self.fd)  # drops the flock


def released(settings, stdin_data, log):
    """libvirt let a domain go (stopped, or a start that failed): it holds no reservation."""
    import os
    import xml.etree.ElementTree as ET
    if not os.path.exists(os.path.join(settings['state_dir'], PENDING_FILE)):
        return
    try:
        dom = parse_domain(ET.fromstring(stdin_data))
    except (ET.ParseError, ValueError, TypeError):
        return
    with Pending(settings['state_dir'], log) as pending:
        pending.forget(set([dom.uuid]))


def _names(domains):
    names = sorted(dom.name for dom in domains)
    shown = ', '.join(names[:NAMES_SHOWN])
    if len(names) > NAMES_SHOWN:
        shown += ' and %d more' % (len(names) - NAMES_SHOWN)
    return shown or 'none'


def verdict(settings, enforce, cpu_max, memory_max_mb, starting, others):
    """None when `starting` fits, else the refusal message."""
    cpus = sum(dom.vcpus for dom in others) + starting.vcpus
    kib = sum(dom.memory_kib for dom in others) + starting.memory_kib
    over = []
    if cpus > cpu_max:
        over.append('%d vCPUs > cpu_max %d' % (cpus, cpu_max))
    if kib > memory_max_mb * 1024:
        over.append('%d MiB > memory_max_mb %d' % (kib // 1024, memory_max_mb))
    if not over:
        return None
    return ('refusing to start %s (%d vCPUs, %d MiB): the quota (cpu_max %d, memory_max_mb %d, enforce %s, '
            'state_dir %s) would be exceeded: %s. %s now: %d domain(s) with %d vCPUs, %d MiB: %s.'
            % (starting.name, starting.vcpus, starting.memory_kib // 1024, cpu_max, memory_max_mb, enforce,
               settings['state_dir'], ' and '.join(over), enforce.capitalize(), len(others),
               cpus - starting.vcpus, (kib - starting.memory_kib) // 1024, _names(others)))


def decide(settings, op, subop, stdin_data, log):
    """None to let the domain start, else the message refusing it."""
    if (op, subop) == ('release', 'end'):
        released(settings, stdin_data, log)
        return None
    if (op, subop) not in CHECKED:
        return None
    import xml.etree.ElementTree as ET
    try:
        enforce, cpu_max, memory_max_mb = read_quota(settings)
        if enforce == 'off':
            return None
        try:
            starting = parse_domain(ET.fromstring(stdin_data))
        except (ET.ParseError, ValueError, TypeError) as exc:
            raise FailOpen('cannot read the starting domain from stdin: %s' % exc)
    except FailOpen as exc:
        log('quota not enforced for this start (failing open): %s' % exc)
        return None
    if not starting.name.startswith(settings['name_prefix']):
        return None
    with Pending(settings['state_dir'], log) as pending:
        others = counted(settings, enforce, starting, log, pending)
        refusal = verdict(settings, enforce, cpu_max, memory_max_mb, starting, others)
        if refusal is None and (op, subop) == ('prepare', 'begin'):
            pending.add(starting)  # until its status file shows it running
        return refusal


def _logger(stream, state_dir):
    """Log to syslog (ident vpe-quota), to stderr (libvirt logs it with a
    refusal) and to state_dir/quota-hook.log, which is there where no syslog
    daemon listens (a container); at 1 MiB it moves to quota-hook.log.1."""
    def log(message):
        import os
        import time
        try:
            import syslog
            syslog.openlog('vpe-quota', 0, syslog.LOG_DAEMON)
            syslog.syslog(syslog.LOG_WARNING, message)
        except (ImportError, OSError):  # no syslog module: the other two still have it
            pass
        stream.write('vpe-quota: %s\n' % message)
        path = os.path.join(state_dir, LOG_FILE)
        try:
            if os.path.getsize(path) > LOG_MAX_BYTES:
                os.rename(path, path + '.1')
        except OSError:
            pass
        try:
            with open(path, 'a') as handle:
                handle.write('%s %s\n' % (time.strftime('%Y-%m-%d %H:%M:%S'), message))
        except (IOError, OSError):
            pass
    return log


def main(argv=None, stdin=None, stderr=None, settings=None):
    argv = sys.argv if argv is None else argv
    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    conf = dict(DEFAULTS, **(SETTINGS if settings is None else settings))
    # libvirt writes the XML for every event; read it all so it never sees
    # EPIPE. Bytes: the parser takes the encoding from the XML itself.
    data = getattr(stdin, 'buffer', stdin).read()
    if len(argv) < 4:
        stderr.write('usage: %s DOMAIN OPERATION SUB-OPERATION [EXTRA] < domain.xml\n' % argv[0])
        return 2
    log = _logger(stderr, conf['state_dir'])
    try:
        refusal = decide(conf, argv[2], argv[3], data, log)
    except Exception as exc:  # fail open on the unforeseen too, as documented
        log('quota not enforced for this start (failing open): unexpected %s: %s' % (type(exc).__name__, exc))
        return 0
    if refusal is None:
        return 0
    log(refusal)
    return 1


if __name__ == '__main__':
    raise SystemExit(main())
