# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of field rules.

Both faces read it: modules build their argument_spec from it and the shim
checks request bodies with it, so a rule is written once; api_shim/openapi.yaml
states the same rules (tests/unit/api_shim/test_openapi_fields.py holds it to them). Each rule says its
type, bounds and pattern; `check_field` raises InvalidInput naming the field
and the rule it broke.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput

INT_MAX = 2 ** 31 - 1
IFNAME_RE = r'^(?!\.\.?$)[A-Za-z0-9_.-]{1,15}$'  # Linux refuses the names . and ..
POOL_NAME_RE = r'^(?!\.)[A-Za-z0-9_.-]{1,64}$'
# quota.enforce: off (bookkeeping only), or what a starting domain is counted
# with by the libvirt hook (quota_hook_program): the running domains, or all defined.
ENFORCE_MODES = ('off', 'running', 'defined')


class Rule(object):
    """One field: its type and the constraints on its value. The kind is also
    the field's Ansible type: 'int', 'str' or 'path' (a string, absolute)."""

    def __init__(self, kind, minimum=None, maximum=None, pattern=None, pattern_text=None, max_length=None,
                 choices=None):
        self.kind = kind
        self.minimum = minimum
        self.maximum = maximum
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_text = pattern_text
        self.max_length = max_length
        self.choices = choices


# resource -> field -> rule. Read-only fields (uuid, used_gb, created_at, enforced) are
# not here: a request that names them is refused as READ_ONLY below.
FIELDS = {
    'quota': {
        'cpu_max': Rule('int', minimum=1, maximum=65536),
        'memory_max_mb': Rule('int', minimum=1, maximum=INT_MAX),
        'enforce': Rule('str', choices=ENFORCE_MODES),
    },
    'network': {
        'bridge': Rule('str', pattern=IFNAME_RE,
                       pattern_text='1-15 characters of A-Z a-z 0-9 _ . -, not "." or ".."'),
        'bridge_interface': Rule('str', pattern=IFNAME_RE,
                                 pattern_text='1-15 characters of A-Z a-z 0-9 _ . -, not "." or ".."'),
    },
    'image-pool': {
        'path': Rule('path', max_length=4096),
        'max_gb': Rule('int', minimum=1, maximum=INT_MAX),
    },
    'pool': {
        'name': Rule('str', pattern=POOL_NAME_RE,
                     pattern_text='1-64 characters of A-Z a-z 0-9 _ . - not starting with "."'),
        'path': Rule('path', max_length=4096),
        'max_gb': Rule('int', minimum=1, maximum=INT_MAX),
    },
}

READ_ONLY = frozenset(['uuid', 'used_gb', 'created_at', 'enforced'])


def _type_name(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, float):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, (list, tuple)):
        return 'array'
    if isinstance(value, dict):
        return 'object'
    return type(value).__name__


def check_field(resource, name, value):
    """Return `value` if it satisfies the rule for resource.name, else raise."""
    rule = FIELDS[resource][name]
    if rule.kind == 'int':
        # bool is an int subclass in Python; JSON true is not a count.
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput('%s must be an integer, got %s' % (name, _type_name(value)), field=name)
        if rule.minimum is not None and value < rule.minimum:
            raise InvalidInput('%s must be >= %d, got %d' % (name, rule.minimum, value), field=name)
        if rule.maximum is not None and value > rule.maximum:
            raise InvalidInput('%s must be <= %d, got %d' % (name, rule.maximum, value), field=name)
        return value
    if not isinstance(value, str):
        raise InvalidInput('%s must be a string, got %s' % (name, _type_name(value)), field=name)
    if '\x00' in value:
        raise InvalidInput('%s must not contain a NUL character' % name, field=name)
    if rule.kind == 'path':
        if not value:
            raise InvalidInput('%s must not be empty' % name, field=name)
        if not value.startswith('/'):
            raise InvalidInput('%s must be an absolute path, got %r' % (name, value), field=name)
    if rule.max_length is not None and len(value) > rule.max_length:
        raise InvalidInput('%s must be at most %d characters' % (name, rule.max_length), field=name)
    # fullmatch: with match(), '$' also matches before a trailing newline ('pool1\n').
    if rule.pattern is not None and not rule.pattern.fullmatch(value):
        raise InvalidInput('%s must be %s, got %r' % (name, rule.pattern_text, value), field=name)
    if rule.choices is not None and value not in rule.choices:
        raise InvalidInput('%s must be one of %s, got %r' % (name, ', '.join(rule.choices), value), field=name)
    return value


def check_body(resource, body, required=(), forbidden=()):
    """Validate a request object for `resource`; return a clean dict.

    Unknown keys, read-only keys and keys listed in `forbidden` are refused;
    `None` values are treated as absent (partial update).
    """
    if not isinstance(body, dict):
        raise InvalidInput('%s must be a JSON object, got %s' % (resource, _type_name(body)), field=resource)
    rules = FIELDS[resource]
    clean = {}
    for name in sorted(body):
        if name in READ_ONLY:
            raise InvalidInput('%s is read-only and cannot be set' % name, field=name)
        if name in forbidden:
            raise InvalidInput('%s cannot be changed here' % name, field=name)
        if name not in rules:
            raise InvalidInput('unknown field %r in %s; allowed: %s' % (name, resource, ', '.join(sorted(rules))),
                               field=name)
        if body[name] is None:
            continue
        clean[name] = check_field(resource, name, body[name])
    for name in required:
        if name not in clean:
            raise InvalidInput('%s is required' % name, field=name)
    return clean


def argument_spec(resource, names=None):
    """argument_spec entries for the fields of `resource` (all or `names`)."""
    spec = {}
    for name, rule in FIELDS[resource].items():
        if names is not None and name not in names:
            continue
        spec[name] = {'type': rule.kind}
        if rule.choices:
            spec[name]['choices'] = list(rule.choices)
    return spec


# A pool's module options: its fields and whether it should exist (vpe_pool, vpe_host).
POOL_OPTIONS = ('name', 'path', 'max_gb', 'state')


def pool_options():
    """The options of one pool, from the table, plus state."""
    options = argument_spec('pool')
    options['state'] = {'type': 'str', 'choices': ['present', 'absent'], 'default': 'present'}
    return options
