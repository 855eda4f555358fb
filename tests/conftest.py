"""Make ``ansible_collections.linuxnet.container_network`` importable for tests.

scripts/setup.sh links this checkout as
$LINUXNET_HOME/collections/ansible_collections/linuxnet/container_network.
"""
import os
import sys

LINUXNET_HOME = os.environ.get('LINUXNET_HOME', '/opt/linuxnet')
COLLECTIONS = os.path.join(LINUXNET_HOME, 'collections')
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_parts = REPO.split(os.sep)
if _parts[-3:] == ['ansible_collections', 'linuxnet', 'container_network']:
    # The tree itself is laid out as a collection (ansible-test units, sanity copy).
    COLLECTIONS = os.sep.join(_parts[:-3]) or os.sep
_link = os.path.join(COLLECTIONS, 'ansible_collections', 'linuxnet', 'container_network')
if not os.path.isdir(_link) or os.path.realpath(_link) != os.path.realpath(REPO):
    raise RuntimeError('%s does not point at %s: run scripts/setup.sh first' % (_link, REPO))
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
