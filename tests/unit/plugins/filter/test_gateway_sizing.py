import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gitlab_duo.self_hosted.plugins.filter.gateway_sizing import FilterModule, gateway_sizing


def test_a_pool_smaller_than_the_figures_call_for_gets_a_warning():
    sizing = gateway_sizing(1000, pool_size=2)
    # 1000 users x 7/s per 1000 = 7 requests/s; x 60 s in flight = 420 concurrent; / 40 per gateway = 11.
    assert (sizing["requests_per_second"], sizing["concurrent"], sizing["gateways"]) == (7.0, 420, 11)
    assert "2 gateway(s) serve this instance, fewer than the 11" in sizing["warning"]


def test_a_pool_large_enough_gets_none():
    assert gateway_sizing(50, pool_size=1)["warning"] == ""
    assert gateway_sizing(50)["pool_size"] is None


def test_a_bad_number_of_users_names_the_variable():
    with pytest.raises(AnsibleFilterError) as raised:
        gateway_sizing(-5)
    assert "ai_gateway_expected_users" in str(raised.value)


def test_the_filter_is_registered():
    assert FilterModule().filters()["gateway_sizing"] is gateway_sizing
