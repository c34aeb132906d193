"""Render docs/reliability.md from the counters the reliability tests wrote
to tests/output/reliability.json (make reliability-doc)."""

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / 'tests' / 'output' / 'reliability.json'
TARGET = REPO / 'docs' / 'reliability.md'

HEAD = (Path(__file__).with_name('reliability.md.in')).read_text()

FOOT = """
## Bugs this tier found (fixed)

- A body of 50000 `[` (under the 64 KiB limit) made `json.loads` raise
  RecursionError: a 500. Now a 400 naming `body` (api_shim/http.py).
- 413 answers did not name the field; they now say `body`.
- Field patterns were checked with `re.match`, so `$` let a trailing newline
  through: a pool named `p1\\n` reached libvirt and came back as a 500. Now
  `fullmatch` (plugins/module_utils/core/fields.py).
- Interface names `.` and `..` passed the bridge rule (Linux refuses them).
- `api_shim/openapi.yaml` was not valid OpenAPI: two unquoted descriptions
  with commas inside flow mappings turned into stray keys.
- PUT /hypervisor/pools/{uuid} renaming a pool whose directory was removed
  outside the shim failed half-way with a 500; it is now refused up front
  with a 409 naming `path`, and nothing changes.
- `?force` alone (no value) was read as false; it now means true.

## Found and left as designed

- If-Match is checked before the body: a stale ETag with an invalid body is a
  412, not a 400.
"""


def _get(doc, section, key, default='n/a'):
    value = (doc.get(section) or {}).get(key)
    return default if value is None else value


def render(doc):
    rows = [
        ('Contract fuzzing', _get(doc, 'contract', 'requests'), 0,
         _get(doc, 'contract', 'failures'),
         'seed %s, %s examples/operation, %s operations fuzzed, %s failed checks' % (
             _get(doc, 'contract', 'seed'), _get(doc, 'contract', 'max_examples'),
             _get(doc, 'contract', 'operations_fuzzed'), _get(doc, 'contract', 'failures'))),
        ('Bad input', _get(doc, 'bad_input', 'requests'), _get(doc, 'bad_input', 'requests'),
         _get(doc, 'bad_input', 'data_lost'),
         '%s cases on %s operations, %s refused with 4xx, %s 5xx, %s host changes' % (
             _get(doc, 'bad_input', 'cases'), _get(doc, 'bad_input', 'endpoints'),
             _get(doc, 'bad_input', 'refused_4xx'), _get(doc, 'bad_input', 'server_errors'),
             _get(doc, 'bad_input', 'host_changes'))),
        ('Auth', _get(doc, 'auth', 'requests'), _get(doc, 'auth', 'refused'), _get(doc, 'auth', 'host_changes'),
         '%s operations, %s refused' % (_get(doc, 'auth', 'operations'), _get(doc, 'auth', 'refused'))),
        ('Concurrency', _get(doc, 'concurrency', 'requests'), 0, _get(doc, 'concurrency', 'data_lost'),
         '%s clients for %s s + %s playbook runs; %s acknowledged writes; %s state file parses, %s invalid; '
         'statuses %s' % (
             _get(doc, 'concurrency', 'clients'), _get(doc, 'concurrency', 'seconds'),
             _get(doc, 'concurrency', 'playbook_runs'), _get(doc, 'concurrency', 'acknowledged_writes'),
             _get(doc, 'concurrency', 'state_file_parses'), _get(doc, 'concurrency', 'state_file_invalid'),
             json.dumps(_get(doc, 'concurrency', 'status_counts', {})))),
        ('Crashes (SIGKILL)', _get(doc, 'crashes', 'requests'), _get(doc, 'crashes', 'faults_injected'),
         _get(doc, 'crashes', 'data_lost'),
         '%s shim kills + %s module kills; %s files in the manifest, %s missing; %s unparseable state files; '
         '%s disagreements; %s temp files left behind; time bound hit: %s' % (
             _get(doc, 'crashes', 'shim_kills'), _get(doc, 'crashes', 'module_kills'),
             _get(doc, 'crashes', 'files_in_manifest'), _get(doc, 'crashes', 'files_missing'),
             _get(doc, 'crashes', 'state_file_unparseable'), _get(doc, 'crashes', 'disagreements'),
             _get(doc, 'crashes', 'temp_files_left'), _get(doc, 'crashes', 'time_bound_hit'))),
        ('libvirtd restart', _get(doc, 'libvirtd_restart', 'requests'),
         _get(doc, 'libvirtd_restart', 'faults_injected'), 0,
         '%s s down: %s answered 503, %s answered 200; back to 200 %s s after libvirtd returned' % (
             _get(doc, 'libvirtd_restart', 'seconds_down'), _get(doc, 'libvirtd_restart', 'answered_503_while_down'),
             _get(doc, 'libvirtd_restart', 'answered_200_while_down'),
             _get(doc, 'libvirtd_restart', 'recovery_seconds'))),
    ]
    total = [0, 0, 0]
    lines = ['| Part | Requests sent | Faults / bad inputs injected | Data lost | Details |',
             '|------|---------------|------------------------------|-----------|---------|']
    for name, sent, faults, lost, detail in rows:
        lines.append('| %s | %s | %s | %s | %s |' % (name, sent, faults, lost, detail))
        for i, value in enumerate((sent, faults, lost)):
            if isinstance(value, int):
                total[i] += value
    lines.append('| **Total** | **%d** | **%d** | **%d** | |' % tuple(total))
    stamps = sorted(v.get('recorded_at', '') for v in doc.values() if isinstance(v, dict))
    when = '%s to %s' % (stamps[0], stamps[-1]) if stamps else 'never'
    loads = sorted(v['load_average'] for v in doc.values() if isinstance(v, dict) and 'load_average' in v)
    load = (', 1-minute load average %s to %s on the test host (requests per second and kills per time bound '
            'scale with it)' % (loads[0], loads[-1])) if loads else ''
    return (HEAD + '\nRecorded %s (host time)%s.\n\n' % (when, load) + '\n'.join(lines) + '\n' + FOOT)


def main():
    if not SOURCE.exists():
        sys.stderr.write('%s does not exist: run make reliability first\n' % SOURCE)
        return 1
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(render(json.loads(SOURCE.read_text())))
    print('wrote %s' % TARGET)
    return 0


if __name__ == '__main__':
    sys.exit(main())
