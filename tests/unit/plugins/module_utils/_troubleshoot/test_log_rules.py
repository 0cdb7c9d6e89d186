import re

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import log_rules as rules
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import (
    CATALOGUE, SEVERITIES, finding, passed, worst)


def test_catalogue_entries_are_complete():
    for finding_id, entry in CATALOGUE.items():
        severity, title, cause, remedy, check = entry
        assert severity in SEVERITIES and title and cause and remedy and check, finding_id
        assert re.match(r"^(gitlab|gateway|log|chat)\.[A-Za-z0-9_]+$", finding_id), finding_id


def test_catalogue_covers_the_field_guide():
    sections = {entry[4].split(",")[0].split(" ")[0] for entry in CATALOGUE.values()}
    for check in range(1, 22):
        assert "7.{0}".format(check) in sections, "no catalogue entry for check 7.{0}".format(check)
    for code in ("A1000", "A1001", "A1002", "A1003", "A9999"):
        assert "chat." + code in CATALOGUE
    for row in ("log.connection_refused", "log.not_found_404", "log.unauthorized", "log.timeout",
                "log.ssl_verify_failed"):
        assert row in CATALOGUE


def test_finding_shape_and_worst():
    item = finding("gateway.auth_bypass_on", "AIGW_AUTH__BYPASS_EXTERNAL=true")
    assert item["severity"] == "critical" and item["remedy"]
    assert item["doc"] == "docs/troubleshooting.md#gateway.auth_bypass_on"
    assert worst([passed("x"), item]) == "critical" and worst([]) == "ok"
    with pytest.raises(KeyError):
        finding("no.such.entry")


GATEWAY_LOG = """{"level":"error","message":"jose.exceptions.JWTError: Signature verification failed"}
gitlab_cloud_connector.providers.CompositeProvider.CriticalAuthError: No keys founds in JWKS; are OIDC providers up?
{"level":"error","message":"Token creation failed"}
litellm.NotFoundError: 404 Not Found for url http://vllm:4000/chat/completions
[Errno 13] Permission denied: '/home/aigateway/.hf/tokenizers'
Invocation of model ID meta.llama3-3-70b-instruct-v1:0 with on-demand throughput isn't supported.
{"level":"info","message":"request ok","authorization":"Bearer sk-secret-value"}
"""


def test_gateway_log_rules():
    hits = rules.classify(GATEWAY_LOG.splitlines(), rules.GATEWAY_RULES)
    assert hits["log.jwt_error"]["count"] == 2
    assert set(hits) >= {"log.token_creation_failed", "log.not_found_404", "log.hf_permission_denied",
                         "log.bedrock_on_demand"}


LLM_LOG = """{"severity":"INFO","status":200,"message":"ok"}
{"severity":"ERROR","status":401,"message":"401 Unauthorized from AI gateway"}
{"severity":"ERROR","status":403,"message":"forbidden"}
not json at all: Connection refused - connect(2) for "aigw" port 5052
{"severity":"ERROR","message":"Net::ReadTimeout with #<TCPSocket>","error_code":"A1000"}
{"severity":"ERROR","message":"SSL_connect returned=1 errno=0 state=error: certificate verify failed"}
{"severity":"ERROR","message":"stream broke","error_code":"A1003","api_key":"sk-live-123"}
"""


def test_llm_log_rules_and_redaction():
    hits = rules.classify_llm_log(LLM_LOG.splitlines())
    assert hits["log.unauthorized"]["count"] == 2
    assert {"log.connection_refused", "log.timeout", "log.ssl_verify_failed", "chat.A1000", "chat.A1003"} <= set(hits)
    assert "sk-live-123" not in hits["chat.A1003"]["line"] and "<redacted>" in hits["chat.A1003"]["line"]
    found = rules.findings_from(hits, "llm.log")
    assert all(item["evidence"].startswith("llm.log: ") for item in found)


def test_redact():
    assert rules.redact('Authorization: Bearer abc.def') == "Authorization: <redacted>"  # the whole value, any scheme
    assert rules.redact('{"password": "hunter2"}') == '{"password": "<redacted>"}'


def test_environment_left_over_from_a_diagnosis():
    from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.gitlab_checks import (
        fact_findings)
    healthy = {"settings": {"ai_gateway_url": "https://gw.example.com", "enabled_instance_verbose_ai_logs": True}}
    ids = {item["id"] for item in fact_findings(healthy, "https://gw.example.com")}
    assert "gitlab.self_sign_tokens_on" not in ids and "gitlab.legacy_ai_gateway_url_env" not in ids
    left_over = dict(healthy, self_sign_tokens="1", legacy_env_url="http://old:5052")
    found = {item["id"]: item for item in fact_findings(left_over, "https://gw.example.com")}
    assert found["gitlab.self_sign_tokens_on"]["evidence"] == "CLOUD_CONNECTOR_SELF_SIGN_TOKENS=1"
    assert "never for production" in found["gitlab.self_sign_tokens_on"]["remedy"]
    assert found["gitlab.legacy_ai_gateway_url_env"]["severity"] in ("warning", "critical")
