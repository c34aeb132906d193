"""The contract: openapi.yaml is valid OpenAPI, it and the app serve the same
routes, and schemathesis fuzzing the live shim finds no 5xx and no response
that breaks the schema.

The fuzz budget is small for CI; `make fuzz-long` runs the same test with
VPE_FUZZ_EXAMPLES (and VPE_FUZZ_SEED) raised."""

import json
import os
import re
import subprocess

from openapi_spec_validator import validate

import relkit
import vpetest

CHECKS = ('not_a_server_error', 'response_schema_conformance', 'status_code_conformance',
          'content_type_conformance')
SEED = int(os.environ.get('VPE_FUZZ_SEED', '20261127'))
MAX_EXAMPLES = int(os.environ.get('VPE_FUZZ_EXAMPLES', '25'))
# Operations the fuzzer must not run with valid data: they act on the host
# outside the shim's state dir (a real bridge, directories at any path). They
# are covered by the negative table in test_bad_input.py instead.
CONFIG = relkit.REPO / 'tests' / 'reliability' / 'schemathesis.toml'
# PUT/DELETE of a pool: schemathesis 4 reuses uuids it saw in GET
# /hypervisor/pools (every pool on the host) even with response data sources
# off in schemathesis.toml, so it would rename or undefine real pools.
NOT_FUZZED = (
    ('PUT', '/hypervisor/network'),
    ('POST', '/hypervisor/pools'),
    ('PUT', '/hypervisor/image-pool'),
    ('PUT', '/hypervisor/pools/{uuid}'),
    ('DELETE', '/hypervisor/pools/{uuid}'),
)


def test_openapi_yaml_is_valid_openapi():
    spec = relkit.load_spec()
    validate(spec)
    assert spec['openapi'].startswith('3.')


def test_every_route_is_in_the_spec_and_every_spec_operation_is_served(tmp_path):
    spec_ops = {(method, path) for method, path, _op in relkit.spec_operations()}
    # a trailing-slash alias (/ui/ for /ui) is the same documented resource
    served = {(method, path.rstrip('/') or '/') for method, path in relkit.app_routes(tmp_path)}
    assert served - spec_ops == set(), 'routes missing from api_shim/openapi.yaml'
    assert spec_ops - served == set(), 'documented in api_shim/openapi.yaml but not served'


def test_only_health_spec_and_host_page_are_open_and_every_operation_documents_its_errors():
    spec = relkit.load_spec()
    assert spec.get('security') == [{'bearer': []}]
    for method, path, op in relkit.spec_operations(spec):
        if relkit.is_open(op):
            assert relkit.open_path(path), '%s %s is documented as open' % (method, path)
            continue
        codes = set(op['responses'])
        assert '401' in codes, (method, path, codes)
        if method != 'GET':
            assert {'400', '403'} <= codes, (method, path, codes)
        if method in ('PUT', 'POST'):
            assert {'413', '415'} <= codes, (method, path, codes)
        for code, response in op['responses'].items():
            response = relkit.resolve(spec, response)
            if code.startswith(('4', '5')) and response.get('content'):
                assert 'application/problem+json' in response['content'], (method, path, code)


def fuzz_exclusions():
    spec_ops = {(m, p) for m, p, _op in relkit.spec_operations()}
    return [(m, p) for m, p in NOT_FUZZED if (m, p) in spec_ops]


def test_schemathesis_finds_no_server_error_and_no_schema_break(tmp_path):
    excluded = fuzz_exclusions()
    with relkit.shim_at(tmp_path / 'shim') as shim:
        report = tmp_path / 'report.ndjson'
        cmd = [str(vpetest.REPO / '.venv' / 'bin' / 'st'), '--config-file', str(CONFIG),
               'run', str(relkit.SPEC_PATH), '--url', shim.url,
               '-H', 'Authorization: Bearer %s' % shim.admin_token,
               '--checks', ','.join(CHECKS), '--seed', str(SEED), '--max-examples', str(MAX_EXAMPLES),
               '--phases', 'examples,coverage,fuzzing', '--generation-database', 'none',
               # One worker: with two, hypothesis in both threads builds ASTs at once, and
               # CPython keeps the AST constructor's recursion depth per interpreter, not per
               # thread (python/cpython#106905): 'AST constructor recursion depth mismatch'.
               '--request-timeout', '20', '--workers', '1', '--no-color',
               '--report', 'ndjson', '--report-ndjson-path', str(report)]
        for method, path in excluded:
            cmd += ['--exclude-operation-id', operation_id(method, path)]
        env = dict(os.environ, HOME=str(tmp_path), TMPDIR=str(tmp_path))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(tmp_path),
                              timeout=600, check=False)
        assert shim.proc.poll() is None, shim.output()
        log = shim.output()
    cases, failures = count_cases(report)
    relkit.record('contract', seed=SEED, max_examples=MAX_EXAMPLES, requests=cases, failures=failures,
                  operations_fuzzed=len(relkit.spec_operations()) - len(excluded),
                  operations_excluded=['%s %s' % e for e in excluded], checks=list(CHECKS))
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    assert 'unhandled error' not in log, log[-4000:]
    assert cases > 0
    # nothing but 4xx on the pool operations: the fuzzer never reached a real pool
    touched = re.findall(r'(?:PUT|DELETE) /hypervisor/pools/\S+ 2\d\d', log)
    assert not touched, touched


def operation_id(method, path):
    for m, p, op in relkit.spec_operations():
        if (m, p) == (method, path):
            return op['operationId']
    raise KeyError((method, path))


def count_cases(report):
    """(test cases run, failures) from schemathesis' NDJSON event stream."""
    cases = failures = 0
    if not report.exists():
        return 0, 0
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for name, body in event.items():
            if name == 'ScenarioFinished':
                recorder = body.get('recorder') or {}
                cases += len(recorder.get('interactions') or {})
                failures += sum(1 for checks in (recorder.get('checks') or {}).values()
                                for check in checks if check.get('status') == 'FAILURE')
    return cases, failures
