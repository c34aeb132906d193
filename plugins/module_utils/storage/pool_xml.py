# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt storage pool and domain disk XML, built and read with ElementTree,
for the changes. A read parses a pool's XML with storage.parse_pool (expat
alone: see core/xml_read).

Names and paths only ever reach libvirt as element text or attribute values
set through the XML library, never through string formatting.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import xml.etree.ElementTree as ET


def dir_pool_xml(name, path, uuid=None):
    """<pool type='dir'> with this name, target path and (optional) uuid."""
    pool = ET.Element('pool', {'type': 'dir'})
    ET.SubElement(pool, 'name').text = name
    if uuid:
        ET.SubElement(pool, 'uuid').text = uuid
    target = ET.SubElement(pool, 'target')
    ET.SubElement(target, 'path').text = path
    return ET.tostring(pool, encoding='unicode')


def renamed(xml, name):
    """The same pool definition under another name (uuid, path, all else kept)."""
    root = ET.fromstring(xml)
    root.find('name').text = name
    return ET.tostring(root, encoding='unicode')


def disk_sources(xml):
    """(file-or-dev paths, pool names) that a domain's disks refer to.

    Every <source> under every <disk> counts, backing stores included: a
    volume that is only a backing file is still in use.
    """
    root = ET.fromstring(xml)
    paths = set()
    pools = set()
    for disk in root.iter('disk'):
        for source in disk.iter('source'):
            for attr in ('file', 'dev', 'dir'):
                value = source.get(attr)
                if value:
                    paths.add(value)
            if source.get('pool'):
                pools.add(source.get('pool'))
    return paths, pools
