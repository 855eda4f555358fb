# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Import pyroute2's netlink message classes without its package ``__init__``.

The modules use pyroute2's message classes (``pyroute2.netlink.*``) only. Importing
any of them first runs ``pyroute2/__init__.py``, which loads IPRoute, NDB, IPDB and
their dependencies: ~60 % of the import time, paid by every module process. :func:`prepare`
registers the ``pyroute2`` package without running that file, so the submodules the
collection imports load alone (they import what they need themselves). The first
access to a name the package itself defines (``from pyroute2 import IPRoute``) runs
the real ``__init__`` then, so the package stays whole for any other user in the
process. Call it before the first pyroute2 import. It does nothing when pyroute2 is
already imported or cannot be found (the import then fails as usual and the module
reports ``missing_required_lib``). It imports the submodules the collection uses at once;
if one of them fails that way (a pyroute2 whose submodules need its ``__init__``), it
removes what it imported, and the plain import runs as if it had not been called.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys

# The pyroute2 modules the collection imports (rtnl.py, nft_netlink.py).
USED = ('pyroute2.netlink', 'pyroute2.netlink.exceptions', 'pyroute2.netlink.rtnl',
        'pyroute2.netlink.rtnl.ifinfmsg', 'pyroute2.netlink.rtnl.ifaddrmsg',
        'pyroute2.netlink.rtnl.rtmsg', 'pyroute2.netlink.nfnetlink',
        'pyroute2.netlink.nfnetlink.nftsocket')


def _forget():
    for name in [m for m in sys.modules if m == 'pyroute2' or m.startswith('pyroute2.')]:
        del sys.modules[name]


_failed = []


def prepare():
    if 'pyroute2' in sys.modules or _failed:
        return
    try:
        import importlib
        import importlib.util
        import types
        spec = importlib.util.find_spec('pyroute2')
        if spec is None or not spec.submodule_search_locations:
            return
        pkg = types.ModuleType('pyroute2')
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__spec__ = spec
        pkg.__file__ = spec.origin
        pkg.__package__ = 'pyroute2'

        def complete(name):
            """Module __getattr__ (PEP 562). ``from pyroute2 import x`` asks for x before
            importing the submodule x: a submodule is imported; any other name runs the
            real __init__ once, then is looked up again."""
            if name.startswith('__'):
                raise AttributeError(name)
            try:
                return importlib.import_module('pyroute2.' + name)
            except ImportError as e:
                if getattr(e, 'name', None) != 'pyroute2.' + name:
                    raise
            if pkg.__dict__.pop('__getattr__', None) is None:
                raise AttributeError(name)
            exec(spec.loader.get_code('pyroute2'), pkg.__dict__)
            return getattr(pkg, name)
        pkg.__getattr__ = complete
        sys.modules['pyroute2'] = pkg
        for name in USED:
            importlib.import_module(name)
    except Exception:  # fall back to the plain import
        _failed.append(True)
        _forget()
