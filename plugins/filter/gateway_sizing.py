# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway_sizing filter: how many gateways GitLab's sizing figures call for, by the module's own rules."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.upgrade import (
    DEFAULT_REQUEST_SECONDS, gateways_needed, sizing_warning)


def gateway_sizing(expected_users, pool_size=None, request_seconds=DEFAULT_REQUEST_SECONDS):
    """gateways_needed() for ``expected_users``, with ``pool_size`` and a ``warning`` when the pool is smaller."""
    try:
        sizing = gateways_needed(expected_users, request_seconds)
    except DuoError as exc:
        raise AnsibleFilterError(exc.msg)
    warning = sizing_warning(sizing, pool_size)
    return dict(sizing, pool_size=pool_size, warning=warning or "")


class FilterModule(object):
    def filters(self):
        return {"gateway_sizing": gateway_sizing}
