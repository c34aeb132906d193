"""Offline stand-in for get-pip.py: ansible-test runs it to put pip into its venvs.

ansible-test runs: <venv-python> get_pip_X_Y.py --disable-pip-version-check pip==X.Y --no-setuptools --no-wheel
"""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'])
if subprocess.call([sys.executable, '-m', 'pip', 'install', '-q'] + args):  # e.g. pip==24.2
    print('get-pip shim: could not install %s, keeping ensurepip pip' % args, file=sys.stderr)
if '--no-setuptools' in sys.argv:  # ensurepip adds setuptools on <3.12; get-pip would not
    subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '-q', '-y', 'setuptools'],
                    stderr=subprocess.DEVNULL)
