# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release hygiene (issue 11 item 7): galaxy.yml's URLs, version_added of every module,
and the changelog as antsibull-changelog lints and renders it for this release."""
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(REPO, 'galaxy.yml')) as _f:
    GALAXY = yaml.safe_load(_f)
MODULES = sorted(os.path.splitext(os.path.basename(p))[0]
                 for p in glob.glob(os.path.join(REPO, 'plugins', 'modules', '*.py'))
                 if not os.path.basename(p).startswith('_'))
FRAGMENTS = sorted(glob.glob(os.path.join(REPO, 'changelogs', 'fragments', '*.y*ml')))
# Computed lists: an empty one would make the tests over it pass with zero cases.
assert len(MODULES) >= 7 and FRAGMENTS, (MODULES, FRAGMENTS)
# antsibull-changelog (and ansible-doc, which it runs to list the modules) of the venv
# running these tests: scripts/setup.sh puts both in venv-2.19.
BIN = os.path.dirname(sys.executable)
ANTSIBULL = os.path.join(BIN, 'antsibull-changelog')


@pytest.mark.parametrize('key', ['repository', 'documentation', 'homepage', 'issues'])
def test_galaxy_urls_are_real(key):
    url = GALAXY.get(key)
    if key != 'repository' and url is None:
        return  # optional; when present it must be real
    assert re.match(r'^https://[a-z0-9.-]+\.[a-z]{2,}/', url or ''), (key, url)
    host = url.split('/')[2]
    assert not re.search(r'(^|\.)(invalid|example|test|localhost)$', host) and \
        not host.startswith('example.'), (key, url)
    assert url.startswith(GALAXY['repository']), (key, url, 'not under the repository')


@pytest.mark.parametrize('module', MODULES)
def test_version_added_is_this_release(module):
    """Every module is new in the first release: version_added is galaxy.yml's version."""
    with open(os.path.join(REPO, 'plugins', 'modules', module + '.py')) as f:
        src = f.read()
    m = re.search(r"^DOCUMENTATION = r?'''(.*?)'''", src, re.S | re.M)
    assert m, module
    assert str(yaml.safe_load(m.group(1))['version_added']) == str(GALAXY['version'])


def _words(text):
    return ' '.join(text.replace('\\_', '_').split())


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    """A release of galaxy.yml's version rendered by antsibull-changelog in a copy of the
    collection (ansible_collections/NS/NAME, as it wants it); the checkout is unchanged."""
    if not os.path.exists(ANTSIBULL):
        pytest.fail('%s missing: run scripts/setup.sh' % ANTSIBULL)
    root = tmp_path_factory.mktemp('release')
    copy = root / 'ansible_collections' / GALAXY['namespace'] / GALAXY['name']
    shutil.copytree(REPO, str(copy), ignore=shutil.ignore_patterns(
        '.git', '__pycache__', '*.pyc', '.pytest_cache', 'tests', 'bench', 'molecule',
        'docs', '.ci', 'scripts', '.build', '*.tar.gz'))
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''),
               ANSIBLE_COLLECTIONS_PATH=str(root))
    run = dict(cwd=str(copy), env=env, capture_output=True, text=True, timeout=300)
    lint = subprocess.run([ANTSIBULL, 'lint', '-v'], check=False, **run)
    release = subprocess.run([ANTSIBULL, 'release', '--date', '2026-01-01'], check=False, **run)
    path = copy / 'CHANGELOG.rst'
    text = path.read_text() if path.exists() else ''
    return lint, release, text, copy


def test_changelog_lints(rendered):
    lint = rendered[0]
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr


def test_changelog_renders_this_release_with_every_module_and_fragment(rendered):
    unused, release, text, copy = rendered
    assert release.returncode == 0, release.stdout + release.stderr
    words = _words(text)
    assert 'v%s' % GALAXY['version'] in text.splitlines()
    assert 'New Modules' in text
    missing = [m for m in MODULES
               if '%s.%s.%s - ' % (GALAXY['namespace'], GALAXY['name'], m) not in words]
    assert not missing, 'modules missing from CHANGELOG.rst: %s\n%s' % (missing, text)
    for frag in FRAGMENTS:
        with open(frag) as f:
            data = yaml.safe_load(f)
        assert data, frag
        for section, entries in data.items():
            for entry in [entries] if isinstance(entries, str) else entries:
                assert _words(entry) in words, (os.path.basename(frag), section, entry)
    with open(copy / 'changelogs' / 'changelog.yaml') as f:
        releases = yaml.safe_load(f)['releases']
    assert list(releases) == [GALAXY['version']]
    assert sorted(m['name'] for m in releases[GALAXY['version']]['modules']) == MODULES
