# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET /openapi.json (open): api_shim/openapi.yaml, read once at start-up."""

import json
import os

import bottle
import yaml

OPENAPI_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'openapi.yaml')


def load_openapi():
    # libyaml's loader when the host has it (Debian's python3-yaml does): the
    # pure-Python one took 50 s of the shim's start on a slow (TCG) VM, 3 s this way.
    loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
    with open(OPENAPI_PATH, 'r') as handle:
        return yaml.load(handle, Loader=loader)  # nosec B506: a safe loader


def get_openapi_handler():
    """The handler of GET /openapi.json, the document read now (at start-up)."""
    body = json.dumps(load_openapi(), sort_keys=True)

    def get_openapi(_ctx):
        return bottle.HTTPResponse(body=body, status=200, headers={'Content-Type': 'application/json'})
    return get_openapi
