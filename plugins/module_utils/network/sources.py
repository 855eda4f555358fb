# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The code a persistent network installs for its boot unit and heal service
(:mod:`persist`): the collection's own module_utils, as the running module has them."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import os
import re

from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    PACKAGE, PIPELINE, ValidationError)

# what the installed copy is run by: boot.py and heal.py import these, and what they import
ENTRIES = (PIPELINE, PACKAGE + '.network.boot')


def own_sources():
    """``{relative path: source}`` of the module_utils the boot and heal scripts run:
    :data:`ENTRIES` and every module of this package their sources import (anywhere in
    them, as Ansible's own module_utils finder looks), with their packages.

    Read from the modules' own loaders, so it works from the AnsiballZ payload as from a
    checkout, and is the same whichever module asks (module ``network_info`` compares it
    with what module ``network`` installed).
    """
    out, todo, seen = {}, list(ENTRIES), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        mod = importlib.import_module(name)
        if not hasattr(mod, '__path__'):  # a package's __init__.py: written empty below
            src = _source(mod)
            out[os.path.join('lib', *name.split('.')) + '.py'] = src
            todo.extend(_own_imports(src))
    parts = PACKAGE.split('.')
    for i in range(1, len(parts) + 1):
        out[os.path.join('lib', *parts[:i]) + os.sep + '__init__.py'] = ''
    for name in seen:  # the layers' packages (kernel, l2, nat, ...): empty
        for i in range(len(parts) + 1, len(name.split('.'))):
            out[os.path.join('lib', *name.split('.')[:i]) + os.sep + '__init__.py'] = ''
    return out


def _source(mod):
    loader = getattr(mod, '__loader__', None)
    try:
        src = loader.get_source(mod.__name__)
    except Exception:  # pragma: no cover - depends on the loader
        src = None
    if src is None:
        raise ValidationError(
            'persistent: cannot read the source of %s (loader %r) to install it for boot. '
            'Run the module from the collection as installed (not byte-compiled only), or '
            'set persistent: false.' % (mod.__name__, loader))
    return src


# ``from PKG[.x] import a, b`` / ``from PKG[.x] import (a,\n b)`` / ``import PKG.x``, at the
# start of a line (in a function too: lazy imports count). A scan, not ast.parse: parsing
# every source costs ~0.1 s per run; the unit tests hold the two to the same answer.
_FROM = re.compile(r'^[ \t]*from[ \t]+(%s(?:\.\w+)*)[ \t]+import[ \t]+(?:\(([^)]*)\)|([^\n]*))'
                   % re.escape(PACKAGE), re.M)
_IMPORT = re.compile(r'^[ \t]*import[ \t]+(%s\.[\w.]+)' % re.escape(PACKAGE), re.M)


def _own_imports(src):
    """The modules of this package that ``src`` imports (``from PKG.x import y``: ``y``
    when it is a module, else ``x``)."""
    found = []
    for m in _FROM.finditer(src):
        module = m.group(1)
        package = hasattr(importlib.import_module(module), '__path__')
        names = re.sub(r'#[^\n]*', '', m.group(2) if m.group(2) is not None else m.group(3))
        for name in [n.split()[0] for n in names.replace('\n', ' ').split(',') if n.strip()]:
            found.append(_submodule(module, name) if package else module)
    found += _IMPORT.findall(src)
    return [n for n in found if n != PACKAGE]


def _submodule(package, name):
    """``package.name`` when it is a module (imported here if a function imports it
    lazily), else ``package`` (``name`` is one of its attributes)."""
    try:
        importlib.import_module(package + '.' + name)
        return package + '.' + name
    except ImportError:
        return package
