"""One rule table, one truth: every request schema of api_shim/openapi.yaml
states, for every field, the type, range, length, pattern and choices of
plugins/module_utils/core/fields.py (the rules the shim and the modules check)."""

import re

import pytest
import yaml

import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields

SPEC = yaml.safe_load((vpetest.REPO / 'api_shim' / 'openapi.yaml').read_text())
SCHEMAS = SPEC['components']['schemas']
COMPARED = ('type', 'minimum', 'maximum', 'maxLength', 'pattern', 'enum')
# request schema -> (resource of fields.FIELDS, the fields it takes; None: all of them)
REQUESTS = {
    'QuotaUpdate': ('quota', None),
    'NetworkUpdate': ('network', None),
    'ImagePoolUpdate': ('image-pool', None),
    'PoolCreate': ('pool', None),
    'PoolUpdate': ('pool', ('name', 'max_gb')),
}


def json_schema(rule):
    """What the OpenAPI document must say of a field with this rule."""
    prop = {'type': 'integer' if rule.kind == 'int' else 'string'}
    for key, value in (('minimum', rule.minimum), ('maximum', rule.maximum), ('maxLength', rule.max_length),
                       ('pattern', rule.pattern.pattern if rule.pattern else None),
                       ('enum', list(rule.choices) if rule.choices else None)):
        if value is not None:
            prop[key] = value
    return prop


def _resolved(prop):
    while '$ref' in prop:
        prop = SCHEMAS[prop['$ref'].rsplit('/', 1)[-1]]
    return prop


def _stated(prop):
    return {key: value for key, value in _resolved(prop).items() if key in COMPARED}


def test_every_resource_has_a_request_schema():
    assert {resource for resource, _names in REQUESTS.values()} == set(fields.FIELDS)


@pytest.mark.parametrize('schema', sorted(REQUESTS))
def test_the_request_schema_states_the_rule_of_every_field(schema):
    resource, names = REQUESTS[schema]
    rules = {name: rule for name, rule in fields.FIELDS[resource].items() if names is None or name in names}
    props = SCHEMAS[schema]['properties']
    assert sorted(props) == sorted(rules)
    assert {name: _stated(props[name]) for name in props} == {name: json_schema(rule) for name, rule in rules.items()}


def test_the_network_read_schema_states_the_interface_name_rule():
    """The same pattern in GET's body: a client validating responses agrees with the shim."""
    props = SCHEMAS['Network']['properties']
    assert props['bridge']['pattern'] == props['bridge_interface']['pattern'] == fields.IFNAME_RE


@pytest.mark.parametrize('name', ['.', '..'])
def test_the_stated_bridge_pattern_refuses_what_linux_refuses(name):
    """The drift this test was written for: the document's pattern accepted . and .."""
    assert not re.search(SCHEMAS['NetworkUpdate']['properties']['bridge']['pattern'], name)
