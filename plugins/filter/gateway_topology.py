# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway_topology filter: which hosts serve which GitLab instance and through which proxy, read from the
inventory (groups and hostvars) by the same Python every role uses."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.topology import (
    GATEWAY_GROUP, PROXY_GROUP, topology)


def _members(variables, proxy_only):
    """A host's pool: tls_proxy_pool_members counts when its TLS proxy is on (always, on a proxy-only host)."""
    if not proxy_only and not boolean(variables.get("tls_proxy_enabled", False), strict=False):
        return []
    return list(variables.get("tls_proxy_pool_members") or [])


def gateway_topology(groups, hostvars):
    """``groups | gateway_topology(hostvars)``: topology() of the inventory's ai_gateway and ai_gateway_proxy hosts."""
    try:
        gateways = {host: {"instance": hostvars[host].get("ai_gateway_gitlab_instance") or "",
                           "pool_members": _members(hostvars[host], False)}
                    for host in groups.get(GATEWAY_GROUP) or []}
        proxies = {host: {"pool_members": _members(hostvars[host], True)} for host in groups.get(PROXY_GROUP) or []}
        return topology(gateways, proxies)
    except DuoError as exc:
        raise AnsibleFilterError(exc.msg)


class FilterModule(object):
    def filters(self):
        return {"gateway_topology": gateway_topology}
