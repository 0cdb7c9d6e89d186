"""The gateway_topology filter reads the inventory's groups and hostvars: a pool counts only with its TLS proxy on,
except on a proxy-only host; a wrong inventory is a filter error naming the rule."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gitlab_duo.self_hosted.plugins.filter.gateway_topology import gateway_topology


def test_reads_groups_and_hostvars():
    hostvars = {"gw1": {"ai_gateway_gitlab_instance": "a", "tls_proxy_enabled": "true", "tls_proxy_pool_members": ["gw2"]},
                "gw2": {"ai_gateway_gitlab_instance": "a", "tls_proxy_pool_members": ["gw1"]},
                "gw3": {"ai_gateway_gitlab_instance": "b"}, "gw4": {"ai_gateway_gitlab_instance": "b"},
                "lb": {"tls_proxy_pool_members": ["gw3", "gw4"]}}
    found = gateway_topology({"ai_gateway": ["gw1", "gw2", "gw3", "gw4"], "ai_gateway_proxy": ["lb"]}, hostvars)
    # gw2's own list is ignored: its TLS proxy is off.
    assert found["pool_proxy"] == {"gw2": "gw1", "gw3": "lb", "gw4": "lb"}
    assert found["instances"]["b"]["fronts"] == ["lb"] and found["instances"]["a"]["fronts"] == ["gw1"]


def test_a_wrong_inventory_is_a_filter_error():
    with pytest.raises(AnsibleFilterError) as info:
        gateway_topology({"ai_gateway": ["gw1"], "ai_gateway_proxy": ["lb"]},
                         {"gw1": {"ai_gateway_gitlab_instance": "a"}, "lb": {}})
    assert "tls_proxy_pool_members names no gateway host" in str(info.value)
