import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import (
    host_port, http_url, is_local_host, port_number)


@pytest.mark.parametrize("value, expected", [
    ("https://aigw.example.com/", "https://aigw.example.com"),
    ("http://aigw.example.com:5052", "http://aigw.example.com:5052"),
    (" https://aigw.example.com/path/ ", "https://aigw.example.com/path"),
])
def test_http_url_normalises(value, expected):
    assert http_url("ai_gateway_url", value, allow_local=False) == expected


@pytest.mark.parametrize("value, words", [
    ("aigw.example.com:5052", "not an absolute http:// or https:// URL"),
    ("ftp://aigw.example.com", "not an absolute"),
    ("https://", "not an absolute"),
    ("https://aigw.example.com/" + "a" * 2048, "longer than 2048"),
    ("http://localhost:5052", "localhost/loopback"),
    ("http://127.0.0.1:5052", "localhost/loopback"),
    ("http://[::1]:5052", "localhost/loopback"),
    ("http://gw.localhost", "localhost/loopback"),
    ("http://aigw.example.com:99999", "invalid port"),
])
def test_http_url_rejects(value, words):
    with pytest.raises(InputError) as info:
        http_url("ai_gateway_url", value, allow_local=False)
    assert words in info.value.msg and "ai_gateway_url=" in info.value.msg and "Fix:" in info.value.msg


def test_local_allowed_when_asked():
    assert http_url("u", "http://localhost:5052", allow_local=True) == "http://localhost:5052"


def test_is_local_host():
    assert is_local_host("LOCALHOST.")
    assert is_local_host("0.0.0.0")
    assert not is_local_host("10.0.0.1")
    assert not is_local_host("gateway.example.com")


def test_host_port():
    assert host_port("duo_agent_platform_service_url", "gw.example.com:50052") == "gw.example.com:50052"
    with pytest.raises(InputError) as info:
        host_port("duo_agent_platform_service_url", "http://gw.example.com:50052/")
    assert "give host:port only, e.g. gw.example.com:50052" in info.value.msg
    for bad in ("gw.example.com", "gw.example.com:0", "gw.example.com:port", "gw/x:1"):
        with pytest.raises(InputError):
            host_port("duo_agent_platform_service_url", bad)


def test_port_number():
    assert port_number("p", 5052) == 5052
    for bad in (0, 65536, -1):
        with pytest.raises(InputError) as info:
            port_number("published_port", bad)
        assert "published_port=" in info.value.msg
