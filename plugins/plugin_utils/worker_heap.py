# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep Python's cyclic garbage collector off the heap an Ansible worker
inherits from the controller (controller side, in an action plugin).

To build a module's payload, ansible-core parses every module_utils file the
module imports and sets `parent` on the import nodes of each tree, so every
parsed file leaves a reference cycle that only the cyclic collector frees.
In a worker (forked from the controller, with all of its heap) our files'
trees are what tips the collector into a full collection, which walks the
whole inherited heap: 35 ms on a small controller (bench/README.md), more on
one with a big inventory, once per worker that builds our payload. Freezing
the inherited objects first (gc.freeze: CPython's answer for forked
processes) leaves the collector the worker's own young objects; the worker
exits when its task is done, so nothing it froze needed collecting.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import gc


def freeze_inherited_heap():
    gc.freeze()
