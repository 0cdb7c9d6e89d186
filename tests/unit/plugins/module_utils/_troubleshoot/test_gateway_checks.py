import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import gateway_checks as checks
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.release import parse_gitlab_version

BASE = {"AIGW_GITLAB_URL": "https://gitlab.example.com", "AIGW_GITLAB_API_URL": "https://gitlab.example.com/api/v4/",
        "AIGW_CUSTOM_MODELS__ENABLED": "true", "AIGW_SELF_SIGNED_JWT__SIGNING_KEY": "k",
        "AIGW_SELF_SIGNED_JWT__VALIDATION_KEY": "k"}


def ids(found):
    return {item["id"] for item in found if item["severity"] != "ok"}


def test_no_proxy_must_cover_gitlab_and_model_hosts():
    endpoints = [{"kind": "openai", "url": "http://vllm.internal:8000/v1"}]
    env = dict(BASE, HTTPS_PROXY="http://proxy:3128", NO_PROXY="gitlab.example.com")
    found = checks.env_findings(env, "https://gitlab.example.com", "bridge", endpoints)
    assert "vllm.internal" in next(i for i in found if i["id"] == "gateway.proxy_without_no_proxy")["evidence"]
    env["NO_PROXY"] = "gitlab.example.com,.internal"
    found = checks.env_findings(env, "https://gitlab.example.com", "bridge", endpoints)
    assert "gateway.proxy_without_no_proxy" not in ids(found)


@pytest.mark.parametrize("extra", [{"aigw_auth__bypass_external": "Yes"}, {"AIGW_AUTH": '{"bypass_external": true}'},
                                   {"AIGW_AUTH__BYPASS_JWT_SIGNATURE": "1"}, {"AIGW_AUTH__BYPASS_EXTERNAL": "t"}])
def test_auth_bypass_judged_as_the_gateway_reads_it(extra):
    found = checks.env_findings(dict(BASE, **extra), "https://gitlab.example.com", "bridge")
    assert "gateway.auth_bypass_on" in ids(found)
    assert next(i for i in found if i["id"] == "gateway.auth_bypass_on")["evidence"].startswith(next(iter(extra)))


def test_host_network_metrics_port_and_clean_env():
    assert ids(checks.env_findings(BASE, "https://gitlab.example.com/", "bridge")) == set()
    assert "gateway.port_conflict" in ids(checks.env_findings(BASE, "https://gitlab.example.com", "host"))


def test_image_skew_and_platform():
    version = parse_gitlab_version("18.3.1-ee")
    assert ids(checks.image_findings("reg/x:self-hosted-v18.3.0-ee", version, "amd64", "x86_64")) == set()
    assert ids(checks.image_findings("reg:5000/x:self-hosted-v18.1.2-ee", version, "amd64", "x86_64")) == {
        "gateway.version_skew"}
    assert "gateway.version_skew" in ids(checks.image_findings("reg/x:latest", version, "amd64", "amd64"))
    pinned = "reg:5000/x:self-hosted-v18.3.0-ee@sha256:" + "0" * 64
    assert ids(checks.image_findings(pinned, version, "amd64", "x86_64")) == set()
    assert ids(checks.image_findings("reg:5000/x:self-hosted-v18.1.2-ee@sha256:" + "0" * 64, version, "amd64",
                                     "x86_64")) == {"gateway.version_skew"}
    assert "gateway.version_skew" in ids(checks.image_findings("reg:5000/x@sha256:" + "0" * 64, version, "amd64",
                                                               "amd64"))
    assert "gateway.platform_mismatch" in ids(checks.image_findings("reg/x:self-hosted-v18.3.0-ee", version,
                                                                    "amd64", "aarch64"))


def test_endpoint_formats():
    assert ids(checks.model_endpoint_findings([
        {"kind": "openai", "url": "http://vllm:8000/v1/"},
        {"kind": "bedrock", "identifier": "bedrock/eu.anthropic.claude-3-5-sonnet-20240620-v1:0"}])) == set()
    assert ids(checks.model_endpoint_findings([{"kind": "openai", "url": "http://localhost:4000"},
                                               {"kind": "bedrock", "identifier": "anthropic.claude"}])) == {
        "gateway.openai_endpoint_without_v1", "gateway.bedrock_identifier_without_region"}


def test_reachable():
    assert checks.reachable(0, "ok")
    assert checks.reachable(1, "wget: server returned error: HTTP/1.1 401 Unauthorized")
    assert not checks.reachable(1, "wget: bad address 'gitlab'")
