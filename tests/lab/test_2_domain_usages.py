"""A domain defined with virsh on a lab host shows up in that host's usages
(and in no other host's)."""

import json
import secrets

import labtier as lab

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
"""


def usages(host):
    status, body = lab.curl(host, '/hypervisor/usages', token=lab.tokens()['read'])
    assert status == 200, body
    return json.loads(body)['usages']


def test_virsh_defined_domain_shows_in_that_hosts_usages():
    name = 'labdom-' + secrets.token_hex(3)
    before = dict((h, usages(h)) for h in lab.hosts())
    lab.sudo('hv1', "cat >/tmp/%s.xml <<'EOT'\n%sEOT\nvirsh -q -c qemu:///system define /tmp/%s.xml"
             % (name, DOMAIN_XML.format(name=name), name))
    try:
        def counted():
            now = usages('hv1')
            return now if now['instances'] == before['hv1']['instances'] + 1 else None
        after = lab.wait_until('usages of hv1 count %s' % name, counted, timeout=60)
        assert after['cpu_used'] == before['hv1']['cpu_used'] + 2
        assert after['memory_used_mb'] == before['hv1']['memory_used_mb'] + 256
        for other in ('hv2', 'hv3'):
            assert usages(other) == before[other]
    finally:
        lab.sudo('hv1', 'virsh -q -c qemu:///system undefine %s; rm -f /tmp/%s.xml' % (name, name), check=False)
    assert usages('hv1')['instances'] == before['hv1']['instances']
