import pytest

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput


@pytest.mark.parametrize('resource,body,field,words', [
    ('quota', {'cpu_max': '16'}, 'cpu_max', 'must be an integer, got string'),
    ('quota', {'cpu_max': True}, 'cpu_max', 'must be an integer, got boolean'),
    ('quota', {'cpu_max': 1.5}, 'cpu_max', 'must be an integer, got number'),
    ('quota', {'cpu_max': 0}, 'cpu_max', 'must be >= 1'),
    ('quota', {'memory_max_mb': -5}, 'memory_max_mb', 'must be >= 1'),
    ('quota', {'memory_max_mb': 10 ** 20}, 'memory_max_mb', 'must be <= 2147483647'),
    ('quota', {'cpu_max': 1, 'cpus': 2}, 'cpus', "unknown field 'cpus'"),
    ('quota', {'enforce': 'on'}, 'enforce', "enforce must be one of off, running, defined, got 'on'"),
    ('quota', {'enforce': False}, 'enforce', 'enforce must be a string, got boolean'),
    ('quota', {'enforced': True}, 'enforced', 'enforced is read-only'),
    ('pool', {'uuid': 'x'}, 'uuid', 'read-only'),
    ('pool', {'used_gb': 1}, 'used_gb', 'read-only'),
    ('pool', {'name': '.hidden'}, 'name', 'not starting with "."'),
    ('pool', {'name': 'a' * 65}, 'name', '1-64 characters'),
    ('pool', {'name': 'bad"name'}, 'name', '1-64 characters'),
    ('pool', {'name': '<x>'}, 'name', '1-64 characters'),
    ('pool', {'path': 'relative/dir'}, 'path', 'absolute path'),
    ('pool', {'path': '/srv/a\x00b'}, 'path', 'NUL'),
    ('pool', {'path': ''}, 'path', 'must not be empty'),
    ('network', {'bridge': 'br-name-too-long'}, 'bridge', '1-15 characters'),
    ('network', {'bridge_interface': 'eth 0'}, 'bridge_interface', '1-15 characters'),
])
def test_bad_values_name_the_field_and_rule(resource, body, field, words):
    with pytest.raises(InvalidInput) as caught:
        fields.check_body(resource, body)
    assert caught.value.field == field
    assert words in caught.value.detail
    assert caught.value.status == 400


def test_good_body_comes_back_clean_and_none_means_absent():
    assert fields.check_body('quota', {'cpu_max': 16, 'memory_max_mb': None}) == {'cpu_max': 16}


def test_required_and_forbidden():
    with pytest.raises(InvalidInput) as caught:
        fields.check_body('pool', {'name': 'p1'}, required=('name', 'path', 'max_gb'))
    assert caught.value.field == 'path'
    with pytest.raises(InvalidInput) as caught:
        fields.check_body('pool', {'path': '/srv/p'}, forbidden=('path',))
    assert caught.value.field == 'path' and 'cannot be changed' in caught.value.detail


def test_body_must_be_an_object():
    with pytest.raises(InvalidInput) as caught:
        fields.check_body('quota', [1, 2])
    assert caught.value.field == 'quota'


def test_argument_spec_comes_from_the_same_table():
    spec = fields.argument_spec('quota')
    assert spec == {'cpu_max': {'type': 'int'}, 'memory_max_mb': {'type': 'int'},
                    'enforce': {'type': 'str', 'choices': ['off', 'running', 'defined']}}
    assert fields.argument_spec('pool', names=('path',)) == {'path': {'type': 'path'}}
