# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: shim
short_description: Hypervisors, their usages, quota and storage, from the vpe.hypervisor shims
version_added: 0.1.0
description:
  - Builds an inventory from the REST shims of a fleet of hypervisors (see the collection's
    C(api_shim) role). Each shim is asked for its usages, quota, volume pools, image store and
    VM bridge; the answers become host variables.
  - The configuration file's name must end in C(vpe_shim.yml) or C(vpe_shim.yaml).
  - Every host goes in group C(vpe_hypervisors). A shim that does not answer, or answers an
    error, does not fail the inventory; its host also goes in group C(vpe_unreachable) and
    gets only C(vpe_shim_url) and C(vpe_error), which says which request failed and why.
  - Shims are asked concurrently (O(concurrency) at once, each one's five requests together),
    over C(ansible.module_utils.urls), with the token in the C(Authorization) header only.
  - "Host variables set: C(vpe_usages), C(vpe_quota) (with C(enforce) where the shim has it),
    C(vpe_pools), C(vpe_image_pool), C(vpe_network) as the shim answers them (see the REST
    contract, C(api_shim/openapi.yaml)); C(vpe_free) with C(cpu) and C(memory_mb), the vCPUs
    and MiB left under the quota (negative when the host is overcommitted); C(vpe_shim_url)."
  - Choose a host for a new VM from these variables with the P(vpe.hypervisor.placement#filter) filter.
author:
  - vpe.hypervisor developers (@vpe-hypervisor)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin; it marks the file as this plugin's configuration.
    required: true
    type: str
    choices: [vpe.hypervisor.shim]
  hosts:
    description:
      - The shims, each a base URL (the host's name is then the URL's host), or a mapping
        with C(url) and optional C(name), C(token) and C(token_file).
      - C(token)/C(token_file) in an entry override O(token)/O(token_file) for that shim, for
        fleets where each shim has its own token (the C(api_shim) role generates one per host
        unless C(api_shim_tokens) is given).
      - Two entries may not have the same name; name them when several shims share a host.
      - A C(token) in an entry is used as written (it is not templated); prefer C(token_file) there.
    type: list
    elements: raw
    required: true
  token:
    description:
      - "A C(read) token of the shims, sent as C(Authorization: Bearer ...). It never appears in
        any output, variable or cache entry of this plugin."
      - Mutually exclusive with O(token_file). Prefer O(token_file) or a vaulted value.
      - May be a template, for example C("{{ lookup('ansible.builtin.env', 'HV_TOKEN') }}").
    type: str
    secret: true
    env:
      - name: VPE_SHIM_TOKEN
  token_file:
    description:
      - A file that holds just the token (surrounding whitespace and a final newline are fine).
        A shim's own token file, with C(SCOPE TOKEN) lines, is refused.
    type: path
    env:
      - name: VPE_SHIM_TOKEN_FILE
  validate_certs:
    description: Verify the shims' TLS certificates (C(https) URLs).
    type: bool
    default: true
  ca_path:
    description: A PEM file of the CA that signed the shims' certificates, when it is not a system one.
    type: path
  timeout:
    description: Seconds to wait for each answer; a shim slower than this lands in C(vpe_unreachable).
    type: float
    default: 10
  concurrency:
    description:
      - How many shims are asked at once. Each shim gets its five requests together, so up to
        5 x O(concurrency) requests are in flight. V(1) asks one shim after another.
    type: int
    default: 16
notes:
  - With O(cache) on, the variables are as fresh as the cache; usages change with every VM
    defined, so keep O(cache_timeout) short for placement, or refresh with C(meta) C(refresh_inventory).
seealso:
  - plugin: vpe.hypervisor.placement
    plugin_type: filter
'''

EXAMPLES = r'''
# fleet.vpe_shim.yml: ansible-inventory -i fleet.vpe_shim.yml --graph
plugin: vpe.hypervisor.shim
hosts:
  - https://hv1.example.com:8470          # host name hv1.example.com
  - name: hv2
    url: https://10.1.2.3:8470
    token_file: ~/.vpe/hv2.token          # this shim has a token of its own
token_file: ~/.vpe/fleet-read.token
ca_path: ~/.vpe/ca.pem
concurrency: 32
compose:
  # SSH to the same address as the shim
  ansible_host: vpe_shim_url | urlsplit('hostname')
groups:
  vpe_has_room: vpe_free.cpu >= 4 and vpe_free.memory_mb >= 8192
keyed_groups:
  - key: vpe_network.bridge
    prefix: bridge
  - key: vpe_quota.enforce          # enforce_off, enforce_running, enforce_defined
    prefix: enforce

# Keep the answers for 60 seconds between runs
# plugin: vpe.hypervisor.shim
# hosts: [https://hv1.example.com:8470]
# token_file: ~/.vpe/fleet-read.token
# cache: true
# cache_plugin: ansible.builtin.jsonfile
# cache_connection: ~/.cache/vpe-inventory
# cache_timeout: 60
'''

import ssl

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.vpe.hypervisor.plugins.plugin_utils.shim_fetch import Fetcher
from ansible_collections.vpe.hypervisor.plugins.plugin_utils.shim_targets import TargetError, parse_targets

GROUP = 'vpe_hypervisors'
UNREACHABLE = 'vpe_unreachable'
# host variable -> key of a fetched state
STATE_VARS = (
    ('vpe_usages', 'usages'),
    ('vpe_quota', 'quota'),
    ('vpe_pools', 'pools'),
    ('vpe_image_pool', 'image-pool'),
    ('vpe_network', 'network'),
    ('vpe_free', 'free'),
)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'vpe.hypervisor.shim'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(('vpe_shim.yml', 'vpe_shim.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache') and cache
        update_cache = self.get_option('cache') and not cache
        results = None
        if use_cache:
            try:
                results = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if results is None:
            results = self._fetch()
        if update_cache:
            self._cache[cache_key] = results  # answers and errors only: no token
        self._populate(results)

    def _option_str(self, name):
        value = self.get_option(name)
        if isinstance(value, str) and self.templar.is_possibly_template(value):
            value = self.templar.template(value)
        return value

    def _fetch(self):
        try:
            targets = parse_targets(self.get_option('hosts'), self._option_str('token'), self.get_option('token_file'))
        except TargetError as exc:
            raise AnsibleParserError('vpe.hypervisor.shim: %s' % exc)
        concurrency = self.get_option('concurrency')
        timeout = self.get_option('timeout')
        if concurrency < 1:
            raise AnsibleParserError('vpe.hypervisor.shim: concurrency must be >= 1, got %d' % concurrency)
        if timeout <= 0:
            raise AnsibleParserError('vpe.hypervisor.shim: timeout must be > 0 seconds, got %s' % timeout)
        ca_path = self.get_option('ca_path')
        try:
            fetcher = Fetcher(timeout=timeout, validate_certs=self.get_option('validate_certs'),
                              ca_path=ca_path, concurrency=concurrency)
        except (OSError, ssl.SSLError) as exc:
            raise AnsibleParserError('vpe.hypervisor.shim: ca_path %s cannot be used: %s' % (ca_path, exc))
        return fetcher.fetch_all(targets)

    def _populate(self, results):
        self.inventory.add_group(GROUP)
        self.inventory.add_group(UNREACHABLE)
        strict = self.get_option('strict')
        for result in results:
            name = self.inventory.add_host(result['name'], group=GROUP)
            host_vars = {'vpe_shim_url': result['url']}
            if 'error' in result:
                self.inventory.add_child(UNREACHABLE, name)
                host_vars['vpe_error'] = result['error']
                self.display.warning('vpe.hypervisor.shim: %s is unreachable: %s' % (name, result['error']))
            else:
                for var, key in STATE_VARS:
                    host_vars[var] = result['state'][key]
            for var, value in host_vars.items():
                self.inventory.set_variable(name, var, value)
            self._set_composite_vars(self.get_option('compose'), host_vars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), host_vars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), host_vars, name, strict=strict)
