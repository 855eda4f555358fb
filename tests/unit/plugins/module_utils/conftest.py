"""Fixtures of the module_utils unit tests."""
import os
import subprocess
import sys

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner


@pytest.fixture
def fresh_python():
    """``fresh_python(code)``: run ``code`` in a new interpreter that imports this
    collection as the tests do (this one's imports are shared by all tests) -> its
    stdout; fails the test when it exits non-zero."""
    collections = os.path.dirname(runner.__file__)
    for _level in range(5):  # .../ansible_collections/linuxnet/container_network/plugins/module_utils
        collections = os.path.dirname(collections)

    def run(code):
        p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=collections), check=False)
        assert p.returncode == 0, p.stderr
        return p.stdout
    return run
