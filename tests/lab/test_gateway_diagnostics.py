"""gateway_diagnostics on real containers of the gateway stand-in, one fault per scenario."""

import pytest

from .conftest import IMAGE, run_module

GITLAB_URL = "http://gitlab.duo-lab.test:8929"
HEALTHY_ENV = {"AIGW_GITLAB_URL": GITLAB_URL, "AIGW_GITLAB_API_URL": GITLAB_URL + "/api/v4/",
               "AIGW_CUSTOM_MODELS__ENABLED": "true", "AIGW_SELF_SIGNED_JWT__SIGNING_KEY": "k1",
               "AIGW_SELF_SIGNED_JWT__VALIDATION_KEY": "k2"}


def start(lab, run_id, env=None, tag="self-hosted-v18.2.10-ee", **options):
    return lab.containers.run(IMAGE + ":" + tag, detach=True, name="duo-diag-" + run_id,
                              environment=dict(HEALTHY_ENV, **(env or {})), labels={"gitlab_duo.test": run_id},
                              **options)


def diagnose(run_id, **extra):
    args = {"name": "duo-diag-" + run_id, "gitlab_url": GITLAB_URL, "gitlab_version": "18.2.1-ee"}
    args.update(extra)
    rc, result, output = run_module("gateway_diagnostics", args)
    assert rc == 0, output
    return {item["id"]: item for item in result["findings"]}, result


def test_healthy_gateway_has_no_finding_beyond_the_lab_network(lab, run_id):
    start(lab, run_id)
    findings, result = diagnose(run_id)
    problems = {key for key, item in findings.items() if item["severity"] in ("critical", "warning")}
    # The lab's GitLab stand-in listens on the host's loopback, which no container reaches.
    assert problems == {"gateway.gitlab_unreachable"}, findings
    assert "gateway.healthz.ok" in findings and "gateway.version_matches.ok" in findings


@pytest.mark.parametrize("env, finding_id, remedy_words", [
    ({"AIGW_CUSTOM_MODELS__ENABLED": "false"}, "gateway.custom_models_disabled", "AIGW_CUSTOM_MODELS__ENABLED=true"),
    ({"AIGW_AUTH__BYPASS_EXTERNAL": "true"}, "gateway.auth_bypass_on", "never bypass"),
    ({"AIGW_GITLAB_URL": "http://old-gitlab.example.com"}, "gateway.gitlab_url_mismatch", "gitlab_url"),
    ({"AIGW_SELF_SIGNED_JWT__SIGNING_KEY": ""}, "gateway.jwt_keys_missing", "JWT keys"),
    ({"HTTPS_PROXY": "http://proxy.example.com:3128"}, "gateway.proxy_without_no_proxy", "NO_PROXY"),
    ({"DUO_WORKFLOW_AUTH__OIDC_CUSTOMER_PORTAL_URL": ""}, "gateway.oidc_portal_empty", "ai_gateway_airgapped"),
    ({"SSL_CERT_FILE": "/etc/ssl/missing.pem"}, "gateway.ca_bundle_missing", "ai_gateway_ca_bundle"),
    ({"HF_HOME": "/proc/hf"}, "gateway.hf_home_not_writable", "HF_HOME=/var/tmp/huggingface"),
])
def test_environment_faults(lab, run_id, env, finding_id, remedy_words):
    start(lab, run_id, env)
    findings, _result = diagnose(run_id)
    assert finding_id in findings, sorted(findings)
    assert remedy_words in findings[finding_id]["remedy"]


def test_stopped_container_and_missing_container(lab, run_id):
    container = start(lab, run_id, {"STANDIN_FAIL_START": "true"})
    container.wait(timeout=20)
    findings, result = diagnose(run_id)
    assert "gateway.container_not_running" in findings and result["worst"] == "critical"
    assert "stand-in told to fail" in findings["gateway.container_not_running"]["evidence"]
    container.remove(force=True)
    findings, _result = diagnose(run_id)
    assert list(findings) == ["gateway.container_missing"]


def test_version_skew_and_model_endpoints(lab, run_id):
    start(lab, run_id, tag="self-hosted-v18.1.1-ee")
    findings, _result = diagnose(run_id, gitlab_version="18.3.0-ee", model_endpoints=[
        {"kind": "openai", "url": "http://127.0.0.1:5052"},
        {"kind": "openai", "url": "http://127.0.0.1:9/v1"},
        {"kind": "bedrock", "identifier": "bedrock/meta.llama3-3-70b-instruct-v1:0"},
        {"kind": "bedrock", "identifier": "bedrock/us.meta.llama3-3-70b-instruct-v1:0"}])
    assert "self-hosted-v18.1.1-ee" in findings["gateway.version_skew"]["evidence"]
    assert "'http://127.0.0.1:5052'" in findings["gateway.openai_endpoint_without_v1"]["evidence"]
    assert "bedrock/meta." in findings["gateway.bedrock_identifier_without_region"]["evidence"]
    assert "127.0.0.1:9/v1" in findings["gateway.model_endpoint_unreachable"]["evidence"]


def test_log_lines_are_classified_and_redacted(lab, run_id):
    container = start(lab, run_id)
    lines = ["jose.exceptions.JWTError: Signature verification failed",
             "CriticalAuthError: No keys founds in JWKS; are OIDC providers up?",
             "Token creation failed",
             '{"level":"error","message":"litellm.APIError boom","api_key":"sk-planted-secret"}']
    for line in lines:
        container.exec_run(["sh", "-c", "echo '{0}' > /proc/1/fd/1".format(line.replace("'", "'\\''"))])
    findings, result = diagnose(run_id)
    assert findings["log.jwt_error"]["count"] == 2
    assert "log.token_creation_failed" in findings
    assert "litellm.APIError" in findings["gateway.log_errors"]["evidence"]
    assert "sk-planted-secret" not in str(result)
