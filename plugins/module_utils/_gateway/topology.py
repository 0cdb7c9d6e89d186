# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which hosts serve which GitLab instance, and through which proxy (private to gitlab_duo.self_hosted): the one
answer that sizing (gateways per instance), GitLab's ai_gateway_url (the host whose URL GitLab is given) and the
upgrade (the proxy a pool member leaves and rejoins) read.

A gateway host (inventory group ``ai_gateway``) serves its ``ai_gateway_gitlab_instance``. A pool is NGINX balancing
several gateways of one instance: on a gateway host with ``tls_proxy_pool_members`` (its own gateway and the
members), or on a host of the group ``ai_gateway_proxy`` that runs no gateway (the members only). GitLab is given
the URL of each instance's front: the pool's proxy for a pool, the gateway host itself otherwise."""

from __future__ import annotations

import json

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

PROXY_GROUP = "ai_gateway_proxy"
GATEWAY_GROUP = "ai_gateway"


def _problem(text):
    return DuoError(text + " Fix the inventory.")


def topology(gateways, proxies):
    """``gateways``: {host: {'instance': name, 'pool_members': [...] (empty unless its TLS proxy is on)}};
    ``proxies``: {host: {'pool_members': [...]}} (hosts that run NGINX and no gateway).

    Returns ``instances`` {instance: {'gateways': [hosts serving it], 'fronts': [hosts whose URL GitLab may be given]}},
    ``pools`` {proxy: {'instance', 'members' (the gateways it balances, its own first), 'runs_gateway'}} and
    ``pool_proxy`` {member: proxy}. DuoError names what is wrong with a pool."""
    both = sorted(set(gateways) & set(proxies))
    if both:
        raise _problem("{0} {1} in both the {2} and the {3} group: a proxy host of the {3} group runs no gateway."
                       .format(", ".join(both), "is" if len(both) == 1 else "are", GATEWAY_GROUP, PROXY_GROUP))
    pools, pool_proxy = {}, {}
    for proxy, facts in sorted(list(gateways.items()) + list(proxies.items())):
        members = list(facts.get("pool_members") or [])
        runs_gateway = proxy in gateways
        if not members and runs_gateway:
            continue
        if not members:
            raise _problem("{0} is in the {1} group but tls_proxy_pool_members names no gateway host for it to "
                           "balance.".format(proxy, PROXY_GROUP))
        strangers = [member for member in members if member not in gateways]
        if strangers or proxy in members:
            raise _problem("tls_proxy_pool_members={0} must name other hosts of the {2} group (their gateways join "
                           "the upstream of the proxy on {1}); {3}.".format(
                               json.dumps(members), proxy, GATEWAY_GROUP,
                               "{0} {1} not in it".format(json.dumps(strangers), "is" if len(strangers) == 1 else "are")
                               if strangers else "this host is its own member"))
        balanced = ([proxy] if runs_gateway else []) + members
        instances = sorted(set(gateways[host].get("instance") or "" for host in balanced))
        if len(instances) != 1:
            raise _problem("The pool behind {0} mixes GitLab instances ({1}): every gateway a proxy balances must have "
                           "the same ai_gateway_gitlab_instance.".format(proxy, ", ".join(
                               "{0}: {1}".format(host, gateways[host].get("instance")) for host in balanced)))
        for member in members:
            if member in pool_proxy:
                raise _problem("{0} is a member of two pools ({1} and {2}): a gateway joins one proxy's upstream."
                               .format(member, pool_proxy[member], proxy))
            pool_proxy[member] = proxy
        pools[proxy] = {"instance": instances[0], "members": balanced, "runs_gateway": runs_gateway}
    instances = {}
    for host, facts in sorted(gateways.items()):
        entry = instances.setdefault(facts.get("instance") or "", {"gateways": [], "fronts": []})
        entry["gateways"].append(host)
        if host not in pool_proxy:
            entry["fronts"].append(host)
    for proxy, pool in sorted(pools.items()):
        if not pool["runs_gateway"]:
            instances[pool["instance"]]["fronts"].append(proxy)
    instances.pop("", None)
    return {"instances": instances, "pools": pools, "pool_proxy": pool_proxy}
