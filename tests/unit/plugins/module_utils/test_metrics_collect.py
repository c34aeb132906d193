"""Counter deltas, bucket spreading and device selection of the collector,
on hand-made samples and a hand-made sysfs tree."""

import os

import pytest

from ansible_collections.vpe.hypervisor.api_shim import metrics_collect as mc


def sample(clock, wall, busy=0.0, total=0.0, memory=1000.0, nics=None, disks=None):
    return {'clock': clock, 'wall': wall, 'cpu': (busy, total), 'memory_mib': memory,
            'nics': nics or {}, 'disks': disks or {}}


def totals(contrib):
    out = {}
    for amounts in contrib.values():
        for column, value in amounts.items():
            out[column] = out.get(column, 0) + value
    return out


def test_first_sample_only_records_memory():
    assert mc.deltas(None, sample(100, 3000, memory=512.5), 420) == {3000: {'mem_n': 1, 'mem_sum': 512.5}}


def test_rates_come_from_deltas_and_split_across_buckets_by_time():
    before = sample(100, 3240, busy=10, total=100, nics={'eth0': (1000, 500)}, disks={'vda': (0, 0)})
    after = sample(160, 3300 + 0, busy=40, total=220, memory=900,
                   nics={'eth0': (7000, 3500)}, disks={'vda': (600, 1200)})
    out = mc.deltas(before, after, 420)
    # 3240..3300 lies in bucket 3000 (3000..3300)
    assert set(out) == {3000, 3300}
    assert out[3300] == {'mem_n': 1, 'mem_sum': 900}
    b = out[3000]
    assert b['cpu_s'] == 60 and b['cpu_sum'] == pytest.approx(100 * 30 / 120 * 60)
    assert (b['net_s'], b['net_in'], b['net_out']) == (60, 6000, 3000)
    assert (b['disk_s'], b['disk_read'], b['disk_write']) == (60, 600, 1200)

    # an interval straddling a boundary is shared in proportion: 20 s before 3300, 40 s after
    out = mc.deltas(sample(100, 3280, nics={'eth0': (0, 0)}), sample(160, 3340, nics={'eth0': (600, 0)}), 420)
    assert out[3000]['net_in'] == pytest.approx(200) and out[3000]['net_s'] == pytest.approx(20)
    assert out[3300]['net_in'] == pytest.approx(400) and out[3300]['net_s'] == pytest.approx(40)


def test_counter_reset_and_nics_that_come_and_go_give_no_delta():
    before = sample(0, 600, nics={'eth0': (10 ** 9, 10 ** 9), 'eth1': (100, 100), 'bond0': (50, 50)})
    after = sample(60, 660, nics={'eth0': (100, 2 * 10 ** 9), 'bond0': (80, 90), 'eth2': (10 ** 6, 10 ** 6)})
    t = totals(mc.deltas(before, after, 420))
    # eth0 rx went backwards (reset): skipped; eth0 tx counts; eth1 vanished, eth2 appeared: nothing
    assert t['net_in'] == 30 and t['net_out'] == 10 ** 9 + 40 and t['net_s'] == 60


def test_no_common_device_leaves_the_series_uncovered():
    t = totals(mc.deltas(sample(0, 600, busy=1, total=2, nics={'eth0': (1, 1)}),
                         sample(60, 660, busy=2, total=4, nics={'eth1': (5, 5)}), 420))
    assert 'net_s' not in t and 'disk_s' not in t and t['cpu_s'] == 60


@pytest.mark.parametrize('gap', [421, 0, -5])
def test_a_stale_or_bogus_baseline_gives_no_rate(gap):
    before = sample(1000, 6000, busy=0, total=10, nics={'eth0': (0, 0)})
    after = sample(1000 + gap, 6000 + max(gap, 1), busy=1000, total=2000, nics={'eth0': (10 ** 12, 0)})
    assert set(totals(mc.deltas(before, after, 420))) == {'mem_n', 'mem_sum'}


def test_sampler_chains_samples_and_sets_its_gap_from_the_interval():
    sampler = mc.Sampler(60)
    assert sampler.max_gap == 420
    assert set(totals(sampler.sample(sample(0, 600, busy=0, total=10)))) == {'mem_n', 'mem_sum'}
    assert totals(sampler.sample(sample(60, 660, busy=5, total=20)))['cpu_sum'] == pytest.approx(50 * 60)


def test_spread_keeps_totals():
    out = mc.spread(250, 1010, {'x': 760.0})
    assert sorted(out) == [0, 300, 600, 900]
    assert [round(out[b]['x']) for b in sorted(out)] == [50, 300, 300, 110]


def test_physical_nics_are_devices_and_bonds_but_not_bond_members(tmp_path):
    layout = {
        'eth0': ['device'], 'enp3s0': ['device', 'bonding_slave'], 'enp4s0': ['device', 'bonding_slave'],
        'bond0': ['bonding'], 'lo': [], 'br100': ['bridge'], 'virbr0': ['bridge'], 'vnet0': ['tun_flags'],
        'tap1': ['tun_flags'], 'veth1a2b': [], 'eth0.100': [], 'ifb0': [], 'wlan0': ['device', 'wireless'],
    }
    for name, entries in layout.items():
        (tmp_path / name).mkdir()
        for entry in entries:
            (tmp_path / name / entry).mkdir()
    assert mc.physical_nics(str(tmp_path)) == {'eth0', 'bond0', 'wlan0'}
    assert mc.physical_nics(str(tmp_path / 'missing')) == set()


def test_physical_disks_are_the_non_virtual_block_devices(tmp_path):
    devices = tmp_path / 'devices'
    block = tmp_path / 'block'
    block.mkdir()
    for name, where in [('vda', 'pci0000:00/0000:00:05.0/virtio3/block'), ('nvme0n1', 'pci0000:00/nvme/nvme0'),
                        ('sda', 'pci0000:00/ata1/host0/block'), ('cciss!c0d0', 'pci0000:00/cciss0'),
                        ('loop0', 'virtual/block'), ('dm-0', 'virtual/block'), ('md0', 'virtual/block'),
                        ('zram0', 'virtual/block'), ('ram0', 'virtual/block')]:
        target = devices / where / name
        target.mkdir(parents=True)
        os.symlink(str(target), str(block / name))
    assert mc.physical_disks(str(block)) == {'vda', 'nvme0n1', 'sda', 'cciss/c0d0'}


def test_cpu_counters_leave_guest_time_inside_user():
    class Times:
        def _asdict(self):
            return {'user': 50.0, 'nice': 5.0, 'system': 10.0, 'idle': 100.0, 'iowait': 20.0, 'irq': 1.0,
                    'softirq': 1.0, 'steal': 3.0, 'guest': 40.0, 'guest_nice': 4.0}
    assert mc._cpu_counters(Times()) == (70.0, 190.0)


def test_a_real_sample_has_the_host_counters():
    current = mc.take_sample()
    assert 0 < current['memory_mib'] and current['cpu'][1] > current['cpu'][0] >= 0
    assert set(current['nics']) <= mc.physical_nics() and 'lo' not in current['nics']
    assert set(current['disks']) <= mc.physical_disks()
