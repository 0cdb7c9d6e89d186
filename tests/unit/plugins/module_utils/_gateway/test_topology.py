"""Which hosts serve which instance and through which proxy: one answer for sizing, GitLab's URL and the upgrade."""

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.topology import topology


def gw(instance, *members):
    return {"instance": instance, "pool_members": list(members)}


def test_single_gateways_are_their_own_fronts():
    found = topology({"gw1": gw("a"), "gw2": gw("b")}, {})
    assert found == {"instances": {"a": {"gateways": ["gw1"], "fronts": ["gw1"]},
                                   "b": {"gateways": ["gw2"], "fronts": ["gw2"]}},
                     "pools": {}, "pool_proxy": {}}


def test_a_pool_on_a_gateway_host():
    found = topology({"gw1": gw("a", "gw2"), "gw2": gw("a"), "gw3": gw("b")}, {})
    assert found["instances"]["a"] == {"gateways": ["gw1", "gw2"], "fronts": ["gw1"]}
    assert found["pools"] == {"gw1": {"instance": "a", "members": ["gw1", "gw2"], "runs_gateway": True}}
    assert found["pool_proxy"] == {"gw2": "gw1"}


def test_a_pool_whose_proxy_runs_no_gateway():
    found = topology({"gw1": gw("a"), "gw2": gw("a")}, {"lb": {"pool_members": ["gw1", "gw2"]}})
    assert found["instances"]["a"] == {"gateways": ["gw1", "gw2"], "fronts": ["lb"]}
    assert found["pools"] == {"lb": {"instance": "a", "members": ["gw1", "gw2"], "runs_gateway": False}}
    assert found["pool_proxy"] == {"gw1": "lb", "gw2": "lb"}


@pytest.mark.parametrize("gateways, proxies, words", [
    ({"gw1": gw("a")}, {"gw1": {"pool_members": ["gw1"]}}, "gw1 is in both the ai_gateway and the ai_gateway_proxy"),
    ({"gw1": gw("a")}, {"lb": {"pool_members": []}}, "lb is in the ai_gateway_proxy group but tls_proxy_pool_members"),
    ({"gw1": gw("a", "gw9")}, {}, 'tls_proxy_pool_members=["gw9"] must name other hosts of the ai_gateway group (their gateways join the '
     'upstream of the proxy on gw1); ["gw9"] is not in it'),
    ({"gw1": gw("a", "gw1")}, {}, "this host is its own member"),
    ({"gw1": gw("a"), "gw2": gw("b")}, {"lb": {"pool_members": ["gw1", "gw2"]}}, "mixes GitLab instances (gw1: a, gw2: b)"),
    ({"gw1": gw("a", "gw3"), "gw2": gw("a", "gw3"), "gw3": gw("a")}, {}, "gw3 is a member of two pools (gw1 and gw2)"),
])
def test_a_wrong_pool_names_the_hosts_and_the_rule(gateways, proxies, words):
    with pytest.raises(DuoError) as info:
        topology(gateways, proxies)
    assert words in info.value.msg and info.value.msg.endswith("Fix the inventory.")
