# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET /healthz (open): whether libvirt answers."""

from ansible_collections.vpe.hypervisor.api_shim.http import json_response


def get_healthz(ctx):
    up = ctx.conn.alive()
    doc = {'status': 'ok' if up else 'unavailable', 'libvirt': up}
    return json_response(doc, status=200 if up else 503, etag=False)
