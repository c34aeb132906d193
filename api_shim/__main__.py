# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import sys

from ansible_collections.vpe.hypervisor.api_shim.cli import main

sys.exit(main())
