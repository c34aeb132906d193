# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask a fleet's shims for their state, concurrently (controller side).

One host is five GETs (usages, quota, pools, image-pool, network), sent
together; `concurrency` hosts are asked at once. Plain urllib with one opener
and one TLS context for the whole run: ansible.module_utils.urls.open_url
builds a TLS context (reading every system CA file) and installs a global
opener on each call, which cost 50 ms of CPU per request and made 32 slow
shims take 11 s instead of under 1 s. A host that does not answer,
or answers an error or a body without its envelope, gets an `error` saying
which request failed and why. Nothing here raises for a host: the inventory
must load whatever part of the fleet is down. The token goes in the
Authorization header only; no message here ever holds it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import http.client
import json
import socket
import ssl
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.error import HTTPError, URLError

# (path under /hypervisor/, envelope key, type of the envelope's value)
ENDPOINTS = (
    ('usages', dict),
    ('quota', dict),
    ('pools', list),
    ('image-pool', dict),
    ('network', dict),
)
USAGE_FIELDS = ('instances', 'cpu_used', 'cpu_total', 'memory_used_mb', 'memory_total_mb')
QUOTA_FIELDS = ('cpu_max', 'memory_max_mb')
MAX_BODY = 4 * 1024 * 1024  # a pool list of thousands of pools is far below this
USER_AGENT = 'vpe.hypervisor-inventory'


class ShimError(Exception):
    """Why one request to one shim did not give a usable answer."""


def _problem_detail(body):
    """The `detail` of an RFC 9457 problem body, or a short excerpt of the text."""
    try:
        doc = json.loads(body.decode('utf-8', 'replace'))
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get('detail'):
        return str(doc['detail'])
    text = body.decode('utf-8', 'replace').strip().replace('\n', ' ')
    return text[:200]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following one elsewhere would carry the token along."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def make_opener(validate_certs=True, ca_path=None):
    """One urllib opener for a whole run (proxies from the environment, as urllib does)."""
    context = ssl.create_default_context(cafile=ca_path)
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())


def get_envelope(opener, base_url, name, kind, headers, timeout):
    """GET <base_url>/hypervisor/<name>; the envelope's value, or ShimError."""
    url = base_url.rstrip('/') + '/hypervisor/' + name
    where = 'GET /hypervisor/%s' % name
    request = urllib.request.Request(url, headers=dict(headers, **{'User-Agent': USER_AGENT}))
    try:
        with opener.open(request, timeout=timeout) as resp:
            body = resp.read(MAX_BODY + 1)
    except HTTPError as exc:
        try:
            detail = _problem_detail(exc.read(64 * 1024))
        except (OSError, http.client.HTTPException):
            detail = ''
        raise ShimError('%s: HTTP %d %s%s' % (where, exc.code, exc.reason, ': ' + detail if detail else ''))
    except URLError as exc:
        reason = exc.reason
        if isinstance(reason, socket.timeout):
            raise ShimError('%s: no answer within %s s' % (where, timeout))
        raise ShimError('%s: cannot connect: %s' % (where, reason))
    except socket.timeout:
        raise ShimError('%s: no answer within %s s' % (where, timeout))
    except (http.client.HTTPException, OSError) as exc:
        raise ShimError('%s: %s: %s' % (where, type(exc).__name__, exc))
    if len(body) > MAX_BODY:
        raise ShimError('%s: answer larger than %d bytes' % (where, MAX_BODY))
    try:
        doc = json.loads(body.decode('utf-8'))
    except ValueError:
        raise ShimError('%s: the answer is not JSON (is %s a vpe.hypervisor shim?)' % (where, base_url))
    if not isinstance(doc, dict) or not isinstance(doc.get(name), kind):
        raise ShimError('%s: the answer has no "%s" envelope holding a %s (is %s a vpe.hypervisor shim?)'
                        % (where, name, 'list' if kind is list else 'JSON object', base_url))
    return doc[name]


def _check_fields(name, value, fields):
    for field in fields:
        if not isinstance(value.get(field), int) or isinstance(value.get(field), bool):
            raise ShimError('GET /hypervisor/%s: field %s is missing or not an integer' % (name, field))


def free_under_quota(usages):
    """vCPUs and MiB left under the quota; negative when the host is overcommitted."""
    return {'cpu': usages['cpu_total'] - usages['cpu_used'],
            'memory_mb': usages['memory_total_mb'] - usages['memory_used_mb']}


def host_state(results):
    """{endpoint: value} of one host's answers, checked, plus `free`."""
    state = dict(results)
    _check_fields('usages', state['usages'], USAGE_FIELDS)
    _check_fields('quota', state['quota'], QUOTA_FIELDS)
    state['free'] = free_under_quota(state['usages'])
    return state


class Fetcher(object):
    """Asks many shims; `concurrency` hosts at once, each host's GETs together."""

    def __init__(self, timeout=10, validate_certs=True, ca_path=None, concurrency=16):
        self.timeout = timeout
        self.opener = make_opener(validate_certs, ca_path)
        self.concurrency = concurrency

    def fetch_all(self, targets):
        """[{name, url, state or error}] for targets [{name, url, token}], in their order."""
        if not targets:
            return []
        hosts = min(self.concurrency, len(targets))
        # Two pools: `hosts` workers each wait on one host's requests, which run in
        # the second pool; a single pool would let a waiting host starve its own GETs.
        with ThreadPoolExecutor(max_workers=hosts * len(ENDPOINTS)) as requests_pool:
            with ThreadPoolExecutor(max_workers=hosts) as hosts_pool:
                return list(hosts_pool.map(lambda target: self.fetch_host(target, requests_pool), targets))

    def fetch_host(self, target, requests_pool):
        headers = {'Accept': 'application/json'}
        if target.get('token'):
            headers['Authorization'] = 'Bearer %s' % target['token']
        futures = [(name, requests_pool.submit(get_envelope, self.opener, target['url'], name, kind, headers,
                                               self.timeout))
                   for name, kind in ENDPOINTS]
        result = {'name': target['name'], 'url': target['url']}
        errors = []
        answers = []
        for name, future in futures:
            try:
                answers.append((name, future.result()))
            except ShimError as exc:
                errors.append(str(exc))
        if not errors:
            try:
                result['state'] = host_state(answers)
            except ShimError as exc:
                errors.append(str(exc))
        if len(errors) == len(ENDPOINTS):
            # a dead or foreign host fails all five the same way: the first says why
            result['error'] = '%s (all %d requests failed)' % (errors[0], len(errors))
        elif errors:
            result['error'] = '; '.join(errors)
        return result
