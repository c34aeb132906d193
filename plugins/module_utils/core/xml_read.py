# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading libvirt's XML with expat alone, for the reads (a pool's name,
uuid and path, a network's bridge, a domain's interface targets).

Importing xml.etree.ElementTree costs a module run about 3 ms, more than a
whole section of vpe_facts, and a read only looks a few elements up. The
tree here answers get/find/findall/findtext/text as ElementTree does for
plain paths ('a/b', './a/b'); building and editing XML (the change code)
keeps using ElementTree.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from xml.parsers import expat


class Node(object):
    """An element: tag, attrib, children, and its text (before the first child)."""

    __slots__ = ('tag', 'attrib', 'children', 'parts')

    def __init__(self, tag, attrib):
        self.tag = tag
        self.attrib = attrib
        self.children = []
        self.parts = []

    @property
    def text(self):
        """ElementTree's .text: the character data before the first child, None if there is none."""
        return ''.join(self.parts) if self.parts else None

    def get(self, name, default=None):
        return self.attrib.get(name, default)

    def findall(self, path):
        nodes = [self]
        for step in path.split('/'):
            if step == '.':
                continue
            nodes = [child for node in nodes for child in node.children if child.tag == step]
        return nodes

    def find(self, path):
        found = self.findall(path)
        return found[0] if found else None

    def findtext(self, path):
        node = self.find(path)
        return None if node is None else (node.text or '')


def parse(text):
    """The root Node of an XML document (str); expat.ExpatError when it is not well-formed."""
    stack = []
    roots = []

    def start(tag, attrib):
        node = Node(tag, attrib)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(_tag):
        stack.pop()

    def data(chunk):
        if stack and not stack[-1].children:
            stack[-1].parts.append(chunk)

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.Parse(text, True)
    return roots[0]
