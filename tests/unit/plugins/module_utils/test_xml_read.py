"""core/xml_read answers what ElementTree answers for the lookups the reads
make, on the XML libvirt gives (the test driver's domains, networks and
pools) and on the corners (entities, CDATA, comments, empty and missing
elements, namespaced metadata)."""

import xml.etree.ElementTree as ET

import libvirt
import pytest

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import xml_read

LOOKUPS = ('name', 'uuid', 'target/path', 'bridge', './devices/interface/target', 'source/dir', 'devices/disk/source',
           'metadata', 'description', 'nothing/here')

CORNERS = [
    '<pool type="dir"><name>a&amp;b &lt;c&gt;</name><uuid/><target><path><![CDATA[/x y/&z]]></path></target></pool>',
    '<pool type="dir"><name>\n  spaced  \n</name><!-- c --><target><path>/p<!-- mid -->ath</path></target></pool>',
    '<network><name>n</name><bridge name="br0" stp="on"/><metadata><v:x xmlns:v="urn:v"><name>no</name></v:x>'
    '</metadata></network>',
    '<domain type="kvm"><name>d\u00e9</name><devices><interface type="bridge"><target dev="vnet0"/></interface>'
    '<interface type="network"><target dev="vnet1"/></interface><interface type="user"/></devices></domain>',
    '<pool type="dir"><name>x<sub/>tail</name><target><path>/p</path></target></pool>',
]


def _same(text):
    ours, theirs = xml_read.parse(text), ET.fromstring(text)
    assert ours.tag == theirs.tag and ours.attrib == dict(theirs.attrib)
    for path in LOOKUPS:
        assert ours.findtext(path) == theirs.findtext(path), path
        assert [(n.tag, n.attrib, n.text) for n in ours.findall(path)] == \
            [(n.tag, dict(n.attrib), n.text) for n in theirs.findall(path)], path
        found, expected = ours.find(path), theirs.find(path)
        assert (found is None) == (expected is None), path
        if found is not None:
            assert found.get('dev') == expected.get('dev') and found.get('name', 'x') == expected.get('name', 'x')


@pytest.mark.parametrize('text', CORNERS)
def test_the_corners_read_as_elementtree_reads_them(text):
    _same(text)


def test_libvirts_own_xml_reads_as_elementtree_reads_it():
    conn = libvirt.open('test:///default')
    try:
        docs = [dom.XMLDesc(0) for dom in conn.listAllDomains(0)]
        docs += [net.XMLDesc(0) for net in conn.listAllNetworks(0)]
        docs += [pool.XMLDesc(0) for pool in conn.listAllStoragePools(0)]
    finally:
        conn.close()
    assert len(docs) >= 3
    for text in docs:
        _same(text)


def test_not_well_formed_is_an_error():
    with pytest.raises(xml_read.expat.ExpatError):
        xml_read.parse('<pool><name>x</pool>')
