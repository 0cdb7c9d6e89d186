import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import (
    host_port, http_url, is_local_host, number_in_range, port_number, safe_name, safe_path)


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


@pytest.mark.parametrize("host", ["127.1", "0x7f.0.0.1", "0x7f000001", "2130706433", "0177.0.0.1", "127.0.0.2",
                                  "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0", "0.0.0.0", "[::]", "[0:0:0:0:0:0:0:1]"])
def test_loopback_in_any_notation_is_refused(host):
    assert is_local_host(host)
    with pytest.raises(InputError) as info:
        http_url("ai_gateway_url", "http://{0}:5052".format(host), allow_local=False)
    assert "localhost/loopback" in info.value.msg


@pytest.mark.parametrize("host", ["10.0.0.5", "192.168.1.10", "172.16.0.1", "[fd00::1]", "gw.internal", "10.1"])
def test_private_addresses_stay_allowed(host):
    """GitLab allows them (allow_local_network is true by default)."""
    assert http_url("ai_gateway_url", "http://{0}:5052".format(host), allow_local=False)


@pytest.mark.parametrize("value, words", [
    ("http://user:pass@gw.example.com", "carries credentials"),
    ("http://token@gw.example.com", "carries credentials"),
    ("http://gw.example.com/\nX-Injected: 1", "control character"),
    ("http://gw.example.com/a\tb", "control character"),
    ("http://gw.exa\x00mple.com", "control character"),
    ("http://gw.example.com:0", "port 0"),
    ("http://gw.example.com/a b", "contains a space"),
    ("http://gätеway.example.com", "not plain ASCII"),
])
def test_http_url_refuses_what_a_careful_operator_would(value, words):
    with pytest.raises(InputError) as info:
        http_url("ai_gateway_url", value)
    assert words in info.value.msg and "Fix:" in info.value.msg
    assert "pass@" not in info.value.msg


@pytest.mark.parametrize("value", ["gw.example.com:５００５２", "gätеway.example.com:50052", "gw.example.com:50052\nx",
                                   "user@gw.example.com:50052", "gw example.com:50052", "gw.example.com:0"])
def test_host_port_ascii_only(value):
    with pytest.raises(InputError):
        host_port("duo_agent_platform_service_url", value)


def test_host_port_ipv6():
    assert host_port("f", "[fd00::1]:50052") == "[fd00::1]:50052"


@pytest.mark.parametrize("value", [0, -1, 3601, True, None])
def test_number_in_range(value):
    with pytest.raises(InputError) as info:
        number_in_range("health_timeout", value, 1, 3600)
    assert "health_timeout=" in info.value.msg and "1-3600" in info.value.msg


@pytest.mark.parametrize("value", ["gw; include /etc/passwd", "gw\n", "gw name", "-gw", "gw$x", "", "a" * 200, "gw{"])
def test_safe_name(value):
    with pytest.raises(InputError):
        safe_name("proxy_container_name", value)
    assert safe_name("n", "gitlab-ai-gateway_1.x") == "gitlab-ai-gateway_1.x"


@pytest.mark.parametrize("value", ["relative/dir", "/etc/x;y", "/etc/x\n", "/etc/a b", "/etc/../root", "/etc/x/..",
                                   "/etc/$HOME", "/etc/x'"])
def test_safe_path(value):
    with pytest.raises(InputError):
        safe_path("proxy_dir", value)
    assert safe_path("p", "/etc/gitlab-ai-gateway/nginx") == "/etc/gitlab-ai-gateway/nginx"
