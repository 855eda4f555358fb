# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The code a persistent network installs for its boot unit and heal service
(:mod:`persist`): the collection's own module_utils, as the running module has them."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import importlib
import os

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


def _own_imports(src):
    """The modules of this package that ``src`` imports (``from PKG.x import y``: ``y``
    when it is a module, else ``x``)."""
    found = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom) and not node.level and (
                node.module == PACKAGE or (node.module or '').startswith(PACKAGE + '.')):
            package = hasattr(importlib.import_module(node.module), '__path__')
            for alias in node.names:
                found.append(_submodule(node.module, alias.name) if package else node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith(PACKAGE + '.')]
    return [n for n in found if n != PACKAGE]


def _submodule(package, name):
    """``package.name`` when it is a module (imported here if a function imports it
    lazily), else ``package`` (``name`` is one of its attributes)."""
    try:
        importlib.import_module(package + '.' + name)
        return package + '.' + name
    except ImportError:
        return package
