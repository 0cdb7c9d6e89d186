"""Is the gateway up? Its two documented answers probed on loopback, over HTTP and over HTTPS with a certificate the
test makes (trusted, untrusted, about to expire)."""

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway import probe
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import (
    Answer, LoopbackHTTP, gateway_routes, module_params, tls_files, tls_server)


def probe_params(url, **given):
    """With fail_on_error off, failed probes are a result to read (the default, on, is tested below)."""
    return module_params("gateway_probe", {"url": url, "retries": 0, "delay": 0.01, "timeout": 3,
                                           "fail_on_error": False}, **given)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture()
def tls_gateway(certificate):
    with LoopbackHTTP(gateway_routes(), ssl_context=tls_server(*certificate)) as server:
        yield server


def test_gateway_targets_and_describe():
    assert probe.gateway_targets("http://gw:5052/") == [
        ("http://gw:5052/monitoring/healthz", 200, None), ("http://gw:5052/", 401, "No authorization header presented")]
    healthy = {"healthz": {"ok": True, "url": "h"}, "root": {"ok": True, "url": "r"}}
    assert probe.describe(healthy) == "no answer"
    assert probe.describe({"healthz": {"ok": True}, "root": {"ok": False, "url": "http://gw/", "error": "HTTP 200, "
                                                             "expected 401"}}) == "http://gw/: HTTP 200, expected 401"
    assert probe.describe({"healthz": {"ok": False, "url": "http://gw/h", "error": "refused"}, "root": None}) == \
        "http://gw/h: refused"


def test_gateway_health_checks_both_answers():
    with LoopbackHTTP(gateway_routes()) as server:
        healthz, root = probe.gateway_health(server.url, deadline=None, delay=0.01)
        assert healthz["ok"] and root["ok"] and root["status"] == 401
        bypassed = probe.gateway_health(server.url, deadline=None, expect_auth=False)[1]
        assert bypassed["ok"] and bypassed["skipped"] == "authentication is bypassed"
        assert bypassed["url"] == server.url + "/" and len(server.requests) == 3
        server.routes[("GET", "/monitoring/healthz")] = Answer(503, "starting")
        healthz, root = probe.gateway_health(server.url, deadline=None)
        assert not healthz["ok"] and root is None


def test_run_against_a_healthy_gateway():
    with LoopbackHTTP(gateway_routes()) as server:
        result = probe.run(probe_params(server.url + "/", label="gw1"))
    assert result["ok"] and result["problems"] == [] and result["changed"] is False and "tls" not in result
    assert [(p["url"], p["status"]) for p in result["probes"]] == [
        (server.url + "/monitoring/healthz", 200), (server.url + "/", 401)]
    assert result["label"] == "gw1"


def test_a_gateway_without_authentication_is_a_problem():
    with LoopbackHTTP(gateway_routes()) as server:
        server.routes[("GET", "/")] = Answer(200, {"message": "welcome"})
        result = probe.run(probe_params(server.url))
    assert not result["ok"] and result["problems"] == ["{0}/: HTTP 200, expected 401".format(server.url)]


def test_a_failed_probe_fails_by_default_with_the_result():
    with LoopbackHTTP(gateway_routes()) as server:
        server.routes[("GET", "/")] = Answer(200, {"message": "welcome"})
        with pytest.raises(DuoError) as info:
            probe.run(probe_params(server.url, label="gw1", fail_on_error=True))
    assert info.value.msg == "Probe 'gw1' failed: {0}/: HTTP 200, expected 401".format(server.url)
    assert info.value.details["ok"] is False and len(info.value.details["probes"]) == 2
    assert info.value.details["problems"] == ["{0}/: HTTP 200, expected 401".format(server.url)]


def test_http_kind_with_headers_and_expected_body():
    with LoopbackHTTP({("GET", "/api/v4/version"): Answer(200, {"version": "18.2.1-ee"})}) as server:
        result = probe.run(probe_params(server.url + "/api/v4/version", kind="http", expect_body="18.2.1",
                                        headers={"PRIVATE-TOKEN": "glpat-x"}))
        missing = probe.run(probe_params(server.url + "/api/v4/version", kind="http", expect_body="19."))
    assert result["ok"] and server.requests[0]["headers"]["PRIVATE-TOKEN"] == "glpat-x"
    assert not missing["ok"] and missing["problems"] == ["{0}/api/v4/version: answer does not contain '19.'".format(
        server.url)]


def test_unreachable_gateway_is_a_problem_not_a_crash():
    result = probe.run(probe_params("http://127.0.0.1:9", retries=1))
    assert not result["ok"] and len(result["problems"]) == 2
    assert all(p["attempts"] == 2 and p["error"].startswith("ConnectionError") for p in result["probes"])


def test_bad_url_names_the_field():
    with pytest.raises(InputError) as info:
        probe.run(probe_params("gw.example.com:5052"))
    assert info.value.msg.startswith("url='gw.example.com:5052': not an absolute http:// or https:// URL")


def test_https_with_the_ca_that_signed_it(tls_gateway, certificate):
    result = probe.run(probe_params(tls_gateway.url, ca_path=certificate[0]))
    assert result["ok"], result["problems"]
    assert result["tls"]["verified"] and result["tls"]["names"] == ["127.0.0.1"] and 28 <= result["tls"]["days_left"] <= 30


def test_https_untrusted_certificate(tls_gateway):
    result = probe.run(probe_params(tls_gateway.url))
    assert not result["ok"] and not result["tls"]["verified"]
    assert result["problems"][-1].startswith("TLS: certificate not trusted")
    assert all("TLS error" in p["error"] for p in result["probes"])
    assert result["tls"]["names"] == ["127.0.0.1"], "the presented certificate is still described"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_certificate_about_to_expire(tls_gateway):
    result = probe.run(probe_params(tls_gateway.url, validate_certs=False, min_days_left=60))
    assert not result["ok"] and len(result["problems"]) == 1
    assert result["problems"][0].startswith("TLS: the certificate expires in ")
    assert result["problems"][0].endswith("; renew it (playbooks/renew.yml)")
