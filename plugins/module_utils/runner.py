# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module wiring shared by every module: want -> have -> plan -> apply.

A module file declares its documentation and argument spec, then hands its
AnsibleModule and a *resource* to :func:`run`. A resource is any object with:

``want(params)``
    Validate the parameters and return the desired-state model. Raises
    :class:`ValidationError` naming the offending item; nothing is touched yet.
``context(module)``
    A context manager giving kernel access (sockets are opened lazily and
    closed on exit).
``observe(ctx, want)``
    Read the kernel once (dumps, not one query per object) and return ``have``.
``plan(want, have)``
    Return the explicit list of :class:`Action` that turns ``have`` into
    ``want``; empty when converged. Raises :class:`PlanError` for conflicts
    that cannot be converged (nothing applied).
``apply(ctx, actions, have)``
    Carry the actions out (``have`` is the observation they were planned from);
    raises :class:`ApplyError` on failure.
``render(want, have, actions)``
    ``(before, after)`` dicts for ``--diff``; ``after`` is predicted from the
    plan, so check mode and a real run show the same diff.
``result(want, have, actions)``
    Extra keys for the module result (may be empty).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys
import traceback

# this collection's module_utils package, as loaded (from a checkout, the AnsiballZ payload
# or the copy the persistence stage installs for boot)
PACKAGE = __name__.rsplit('.', 1)[0]
# what a run of module network imports: the heal service and the boot copy load it whole
PIPELINE = PACKAGE + '.network.pipeline'


class ValidationError(Exception):
    """Bad input: says which item, what is wrong and how to fix it."""


class PlanError(Exception):
    """The wanted state conflicts with the kernel in a way we must not override."""


class ApplyError(Exception):
    """An action failed; ``done`` lists what was applied before it."""

    def __init__(self, action, error, done, rolled_back=None):
        self.action = action
        self.error = error
        self.done = done
        self.rolled_back = rolled_back or []
        super(ApplyError, self).__init__(
            "%s failed: %s" % (action.describe(), error))


class Action(object):
    """One kernel change: an operation name, the object it acts on, arguments."""

    __slots__ = ('op', 'target', 'args')

    def __init__(self, op, target, **args):
        self.op = op
        self.target = target
        self.args = args

    def as_dict(self):
        d = {'op': self.op, 'target': self.target}
        for k, v in sorted(self.args.items()):
            if v is not None and not k.startswith('_'):
                d[k] = list(v) if isinstance(v, (tuple, set, frozenset)) else v
        return d

    def describe(self):
        extra = ', '.join('%s=%s' % (k, v) for k, v in sorted(self.as_dict().items())
                          if k not in ('op', 'target'))
        return '%s %s%s' % (self.op, self.target, (' (%s)' % extra) if extra else '')

    def __eq__(self, other):
        return isinstance(other, Action) and self.as_dict() == other.as_dict()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((self.op, self.target))

    def __repr__(self):
        return 'Action(%s)' % self.describe()


def run_module(resource, argument_spec, has_lib, lib_error, **module_kwargs):
    """The whole main() of a module: parse arguments, check the library, run."""
    from ansible.module_utils.basic import AnsibleModule, missing_required_lib
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           **module_kwargs)
    if not has_lib:
        # missing_library/python: what the role needs to install it for this interpreter
        module.fail_json(msg=missing_required_lib('pyroute2'), exception=lib_error,
                         missing_library='pyroute2', python=sys.executable)
    run(module, resource)


def converge(resource, ctx, want, check_mode, diff, result, stage=None):
    """observe -> plan -> apply for one resource, recording its actions in ``result``.

    Returns ``(actions, extra)``: the planned actions and the resource's extra result
    keys. With ``diff``, the ``(before, after)`` rendering goes to ``result['diff']``
    (under ``stage`` when given: a composite resource runs several stages, and labels
    their actions with it), before anything is applied.
    """
    have = resource.observe(ctx, want)
    actions = resource.plan(want, have)
    record(resource, want, have, actions, diff, result, stage)
    if actions and not check_mode:
        resource.apply(ctx, actions, have)
    return actions, resource.result(want, have, actions)


def record(resource, want, have, actions, diff, result, stage=None):
    """Put planned ``actions`` (and with ``diff`` their rendering) into ``result``."""
    for a in actions:
        d = a.as_dict()
        if stage is not None:
            d['stage'] = stage
        result['actions'].append(d)
    result['changed'] = result['changed'] or bool(actions)
    if diff:
        before, after = resource.render(want, have, actions)
        if stage is None:
            result['diff'] = {'before': before, 'after': after}
        else:
            d = result.setdefault('diff', {'before': {}, 'after': {}})
            d['before'][stage] = _lines(before)
            d['after'][stage] = _lines(after)


def _lines(text):
    """Text renderings nest in a composite's diff as lists of lines."""
    return text.splitlines() if isinstance(text, str) else text


class Invocation(object):
    """One run of a resource: its parameters and how to run (what a context reads of the
    caller: ``params``, ``check_mode``, ``run_command``). Module runs build it from their
    ``AnsibleModule`` (:func:`run`); the boot restore and ``network_info``'s drift build
    their own, with no module at all."""

    def __init__(self, params, check_mode=False, diff=False, run_command=None):
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.run_command = run_command

    @classmethod
    def of(cls, module):
        return cls(module.params, module.check_mode, module._diff,
                   getattr(module, 'run_command', None))


class Failed(Exception):
    """A run that failed: ``msg`` and the result keys to report with it."""

    def __init__(self, msg, result):
        Exception.__init__(self, msg)
        self.msg = msg
        self.result = result


def execute(resource, invocation):
    """Run ``resource`` once: want -> (its context) -> converge -> the result dict (with
    ``warnings``), or :class:`Failed` with everything the result holds so far.

    A resource with its own ``converge(ctx, want, check_mode, diff, result)`` (a
    composite of several resources) drives its stages itself and returns its extra
    result keys; any other goes through :func:`converge` once.
    """
    result = {'changed': False, 'actions': []}
    inv = invocation
    try:
        want = resource.want(inv.params)
        with resource.context(inv) as ctx:
            if hasattr(resource, 'converge'):
                extra = resource.converge(ctx, want, inv.check_mode, inv.diff, result)
            else:
                extra = converge(resource, ctx, want, inv.check_mode, inv.diff, result)[1]
            result['warnings'] = extra.pop('warnings', None) or []
            result.update(extra)
    except (ValidationError, PlanError) as e:
        raise Failed(str(e), result)
    except ApplyError as e:
        raise Failed(
            '%s. Applied before the failure: %d action(s)%s. Nothing else was changed; '
            'fix the cause and rerun to converge.' % (
                e, len(e.done),
                ('; rolled back: %s' % ', '.join(a.describe() for a in e.rolled_back))
                if e.rolled_back else ''),
            dict(result, failed_action=e.action.as_dict(),
                 done=[a.as_dict() for a in e.done],
                 rolled_back=[a.as_dict() for a in e.rolled_back]))
    except Exception as e:  # pragma: no cover - last resort, keeps the traceback
        raise Failed('unexpected error: %s' % e,
                     dict(result, exception=traceback.format_exc()))
    return result


def run(module, resource):
    """Run one module invocation end to end and exit the module (the Ansible edge of
    :func:`execute`)."""
    try:
        result = execute(resource, Invocation.of(module))
    except Failed as e:
        e.result.pop('warnings', None)
        module.fail_json(msg=e.msg, **e.result)
    for w in result.pop('warnings'):
        module.warn(w)
    module.exit_json(**result)
