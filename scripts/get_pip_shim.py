"""Stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip.py from a host this machine cannot reach; pip itself
is on PyPI, which it can. scripts/setup.sh installs this file where ansible-test
caches the bootstrap script. Like get-pip.py, it takes pip-install arguments, plus
get-pip's own --no-setuptools / --no-wheel.
"""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'],
                      stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
