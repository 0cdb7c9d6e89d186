import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.container import (
    loopback_only_while_bypassed)

BYPASS = {"AIGW_AUTH__BYPASS_EXTERNAL": "true"}


@pytest.mark.parametrize("env, network, port, bind, field", [
    (BYPASS, "bridge", 5052, "0.0.0.0", "bind_address"),
    (BYPASS, "bridge", 5052, "10.0.0.5", "bind_address"),
    ({"aigw_auth": '{"bypass_external": "yes"}'}, "bridge", 5052, "::", "bind_address"),
    (BYPASS, "host", None, "0.0.0.0", "env.AIGW_FASTAPI__API_HOST"),
    (dict(BYPASS, AIGW_FASTAPI__API_HOST="0.0.0.0"), "host", None, "0.0.0.0", "env.AIGW_FASTAPI__API_HOST"),
    (BYPASS, "gitlab-ai-gateway", None, "0.0.0.0", "network_mode"),
])
def test_a_bypassed_gateway_must_listen_on_loopback_only(env, network, port, bind, field):
    with pytest.raises(InputError) as info:
        loopback_only_while_bypassed(env, network, port, bind)
    assert info.value.details["field"] == field and "loopback only" in info.value.msg


@pytest.mark.parametrize("env, network, port, bind", [
    (BYPASS, "bridge", 5052, "127.0.0.1"), (BYPASS, "bridge", 5052, "::1"),
    (dict(BYPASS, AIGW_FASTAPI__API_HOST="127.0.0.1"), "host", None, "0.0.0.0"),
    ({}, "gitlab-ai-gateway", None, "0.0.0.0"), ({}, "bridge", 5052, "0.0.0.0"),
])
def test_loopback_or_no_bypass_is_accepted(env, network, port, bind):
    assert loopback_only_while_bypassed(env, network, port, bind) is None
