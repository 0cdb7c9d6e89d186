"""The ai_gateway_url filter answers exactly as the ai_settings module would: same value, same message."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gitlab_duo.self_hosted.plugins.filter.ai_gateway_url import FilterModule, ai_gateway_url
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.ai_settings import desired_settings


def test_registered_under_its_name():
    assert FilterModule().filters() == {"ai_gateway_url": ai_gateway_url}


@pytest.mark.parametrize("value, expected", [
    ("https://aigw.example.com/", "https://aigw.example.com"),
    ("http://aigw.example.com:5052", "http://aigw.example.com:5052"),
])
def test_returns_the_url_as_gitlab_will_hold_it(value, expected):
    assert ai_gateway_url(value) == expected == desired_settings(ai_gateway_url=value)["ai_gateway_url"]


@pytest.mark.parametrize("value", [
    "aigw.example.com:5052", "ftp://aigw.example.com", "", "http://localhost:5052", "http://127.0.0.1:5052",
    "https://aigw.example.com/" + "a" * 2048, "http://aigw.example.com:99999",
])
def test_refuses_with_the_modules_message(value):
    with pytest.raises(InputError) as module:
        desired_settings(ai_gateway_url=value)
    with pytest.raises(AnsibleFilterError) as plugin:
        ai_gateway_url(value)
    assert plugin.value.message == module.value.msg
    assert module.value.msg.startswith("ai_gateway_url=") and "Fix: " in module.value.msg


def test_loopback_accepted_when_allowed():
    assert ai_gateway_url("http://127.0.0.1:5052/", allow_local_urls=True) == "http://127.0.0.1:5052"
