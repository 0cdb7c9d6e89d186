# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ai_gateway_url filter: a gateway URL checked by the ai_settings module's own rules, before anything runs."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.ai_settings import desired_settings


def ai_gateway_url(value, allow_local_urls=False):
    """The URL as ai_settings will set it (trailing ``/`` stripped), or the module's message (field, value, fix)."""
    try:
        return desired_settings(ai_gateway_url=value, allow_local_urls=bool(allow_local_urls))["ai_gateway_url"]
    except DuoError as exc:
        raise AnsibleFilterError(exc.msg)


class FilterModule(object):
    def filters(self):
        return {"ai_gateway_url": ai_gateway_url}
