"""HTTP load for the shim bench: wrk (C, epoll, keep-alive) driven from Python.

wrk is used rather than a Python client because on a 2-core machine a
Python client at 16 connections would take the CPU the server needs and
measure itself. A Lua `done` hook prints the numbers as JSON.

    python bench/load.py URL [-H 'Authorization: Bearer T'] [-c 16] [-d 10]
"""

import argparse
import json
import shutil
import subprocess
import tempfile

LUA = r'''
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors": %d, "non2xx": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
'''


def have_wrk():
    return shutil.which('wrk') is not None


def run(url, connections=1, duration=10, headers=(), timeout=10):
    """One wrk run; returns {'rps', 'p50_ms', 'p99_ms', ...}."""
    threads = 1 if connections < 2 else 2
    with tempfile.NamedTemporaryFile('w', suffix='.lua') as script:
        script.write(LUA)
        script.flush()
        cmd = ['wrk', '-t%d' % threads, '-c%d' % connections, '-d%ds' % duration,
               '--timeout', '%ds' % timeout, '-s', script.name]
        for header in headers:
            cmd += ['-H', header]
        cmd.append(url)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith('WRKJSON ')]
    if not line:
        raise RuntimeError('wrk printed no summary:\n%s\n%s' % (proc.stdout, proc.stderr))
    raw = json.loads(line[-1][len('WRKJSON '):])
    seconds = raw['duration_us'] / 1e6
    return {
        'connections': connections,
        'seconds': round(seconds, 2),
        'requests': raw['requests'],
        'rps': round(raw['requests'] / seconds, 1) if seconds else 0.0,
        'p50_ms': round(raw['p50_us'] / 1000.0, 2),
        'p90_ms': round(raw['p90_us'] / 1000.0, 2),
        'p99_ms': round(raw['p99_us'] / 1000.0, 2),
        'max_ms': round(raw['max_us'] / 1000.0, 2),
        'errors': raw['errors'],
        'non2xx': raw['non2xx'],
        'kb_per_response': round(raw['bytes'] / 1024.0 / raw['requests'], 1) if raw['requests'] else 0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('url')
    parser.add_argument('-H', '--header', action='append', default=[])
    parser.add_argument('-c', '--connections', type=int, default=1)
    parser.add_argument('-d', '--duration', type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(run(args.url, args.connections, args.duration, args.header), indent=2))


if __name__ == '__main__':
    main()
