# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sampling the host with psutil and turning counter deltas into bucket sums.

What is counted:
- cpu: busy share of all CPUs between two samples, from the kernel's CPU
  time counters (guest time is inside user/nice, so running VMs count as busy;
  idle and iowait are idle);
- memory: total - available, in MiB, at each sample (a gauge);
- network: bytes received / sent by physical NICs and bonds. A NIC is
  physical when /sys/class/net/NAME/device exists; a bond when
  /sys/class/net/NAME/bonding exists. A NIC enslaved to a bond is counted
  at its bond, not twice. lo, bridges, tun/tap/vnet, veth, VLAN, macvlan,
  ifb and every other virtual device are left out;
- disk: bytes read / written by whole physical disks: entries of /sys/block
  that are not under /sys/devices/virtual. Partitions (not in /sys/block),
  loop, ram, zram, device-mapper (LVM, dm-crypt, multipath), md RAID and nbd
  are left out, so I/O is counted once, where it reaches a disk.

Rates come from deltas of those counters between consecutive samples. A
counter that went backwards (the device was reset or re-created) gives no
delta for that interval; a NIC or disk present in only one of the two
samples gives none either. The first sample after a start only records the
counters (and the memory gauge): a rate is never computed against a
baseline older than two intervals plus a bucket, so neither a restart nor a
suspend nor a reboot yields a bogus spike. Elapsed time is measured on
CLOCK_BOOTTIME, which a wall-clock step does not move.

An interval's amounts are spread over the 5-minute buckets it overlaps in
proportion to the time spent in each, so an average over any set of whole
buckets is exact.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import MissingLibrary
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_store import BUCKET, bucket_of

try:
    import psutil
    HAS_PSUTIL = True
    PSUTIL_IMPORT_ERROR = None
except ImportError as _exc:
    psutil = None
    HAS_PSUTIL = False
    PSUTIL_IMPORT_ERROR = _exc

SYS_NET = '/sys/class/net'
SYS_BLOCK = '/sys/block'
MIB = 1024 * 1024


def require_psutil():
    if not HAS_PSUTIL:
        raise MissingLibrary('the psutil Python library is not installed on this host (%s); install python3-psutil '
                             '(Debian/Ubuntu, Fedora/RHEL) or "pip install psutil"' % PSUTIL_IMPORT_ERROR)


def clock():
    """Seconds on a clock that counts suspend and ignores wall-clock steps."""
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):
        return time.monotonic()


def physical_nics(sys_net=SYS_NET):
    """Names of the physical NICs and bonds (bond members excluded)."""
    try:
        names = os.listdir(sys_net)
    except OSError:
        return set()
    found = set()
    for name in names:
        base = os.path.join(sys_net, name)
        if os.path.isdir(os.path.join(base, 'bonding')):
            found.add(name)
        elif os.path.exists(os.path.join(base, 'device')) and not os.path.exists(os.path.join(base, 'bonding_slave')):
            found.add(name)
    return found


def physical_disks(sys_block=SYS_BLOCK):
    """Names of whole physical disks as /proc/diskstats spells them."""
    try:
        names = os.listdir(sys_block)
    except OSError:
        return set()
    found = set()
    for name in names:
        real = os.path.realpath(os.path.join(sys_block, name))
        if '/devices/virtual/' in real:
            continue
        found.add(name.replace('!', '/'))  # cciss!c0d0 in sysfs is cciss/c0d0 in diskstats
    return found


def _cpu_counters(times):
    """(busy seconds, total seconds) of all CPUs from psutil.cpu_times()."""
    fields = times._asdict()
    # On Linux guest/guest_nice are already inside user/nice.
    total = sum(v for k, v in fields.items() if k not in ('guest', 'guest_nice'))
    idle = fields.get('idle', 0.0) + fields.get('iowait', 0.0)
    return total - idle, total


def take_sample():
    """The host's counters now, as a plain dict."""
    require_psutil()
    nics = physical_nics()
    disks = physical_disks()
    busy, total = _cpu_counters(psutil.cpu_times())
    memory = psutil.virtual_memory()
    net = psutil.net_io_counters(pernic=True, nowrap=False) or {}
    io = psutil.disk_io_counters(perdisk=True, nowrap=False) or {}
    return {
        'clock': clock(),
        'wall': time.time(),
        'cpu': (busy, total),
        'memory_mib': (memory.total - memory.available) / MIB,
        'nics': dict((n, (c.bytes_recv, c.bytes_sent)) for n, c in net.items() if n in nics),
        'disks': dict((n, (c.read_bytes, c.write_bytes)) for n, c in io.items() if n in disks),
    }


def _counter_deltas(before, after):
    """Summed per-device deltas over devices in both samples, skipping any that went backwards."""
    sums = [0, 0]
    for name in set(before) & set(after):
        for index in (0, 1):
            delta = after[name][index] - before[name][index]
            if delta >= 0:
                sums[index] += delta
    return sums, bool(set(before) & set(after))


def spread(start, end, amounts):
    """{bucket: {column: share}} of `amounts` over [start, end), in proportion to time."""
    out = {}
    length = float(end - start)
    moment = start
    while moment < end:
        bucket = bucket_of(moment)
        stop = min(bucket + BUCKET, end)
        share = (stop - moment) / length
        out[bucket] = dict((column, value * share) for column, value in amounts.items())
        moment = stop
    return out


def merge(into, more):
    """Add {bucket: {column: amount}} `more` into `into` (returns `into`)."""
    for bucket, amounts in more.items():
        target = into.setdefault(bucket, {})
        for column, value in amounts.items():
            target[column] = target.get(column, 0) + value
    return into


def deltas(previous, current, max_gap):
    """{bucket: {column: amount}} contributed by sample `current` after `previous`."""
    out = {bucket_of(current['wall']): {'mem_n': 1, 'mem_sum': current['memory_mib']}}
    if previous is None:
        return out
    elapsed = current['clock'] - previous['clock']
    if elapsed <= 0 or elapsed > max_gap:
        return out
    amounts = {}
    busy = current['cpu'][0] - previous['cpu'][0]
    total = current['cpu'][1] - previous['cpu'][1]
    if total > 0:
        share = min(max(busy / total, 0.0), 1.0)
        amounts['cpu_s'] = elapsed
        amounts['cpu_sum'] = 100.0 * share * elapsed
    (received, sent), any_nic = _counter_deltas(previous['nics'], current['nics'])
    if any_nic:
        amounts.update(net_s=elapsed, net_in=received, net_out=sent)
    (read, written), any_disk = _counter_deltas(previous['disks'], current['disks'])
    if any_disk:
        amounts.update(disk_s=elapsed, disk_read=read, disk_write=written)
    if amounts:
        merge(out, spread(current['wall'] - elapsed, current['wall'], amounts))
    return out


class Sampler(object):
    """Keeps the previous sample and turns each new one into bucket amounts."""

    def __init__(self, interval):
        self.interval = interval
        self.max_gap = 2 * interval + BUCKET
        self.previous = None

    def sample(self, current=None):
        current = take_sample() if current is None else current
        out = deltas(self.previous, current, self.max_gap)
        self.previous = current
        return out
