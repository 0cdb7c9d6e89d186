# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors shared by the collection's modules (private to gitlab_duo.self_hosted).

Domain code raises DuoError; ``respond`` turns it into fail_json in one place for every module, so every
failure carries a message that names the field, the bad value and the fix.
"""

from __future__ import annotations


class DuoError(Exception):
    """A failure a user can act on. ``details`` become extra keys of the module result."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details

    def fail(self, module, **extra):
        result = dict(self.details)
        result.update(extra)
        module.fail_json(msg=self.msg, **result)


class InputError(DuoError):
    """A parameter is wrong; raised before anything changes."""

    def __init__(self, field, value, problem, fix):
        super().__init__(
            "{field}={value!r}: {problem}. Fix: {fix}".format(field=field, value=value, problem=problem, fix=fix),
            field=field,
        )


def respond(module, service, *args):
    """A module's whole answer: run its service, then exit_json with the result (its ``warnings`` through
    module.warn), or fail_json with the DuoError's message and details."""
    try:
        result = service(*args)
    except DuoError as exc:
        exc.fail(module)
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    module.exit_json(**result)
