import json
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


# The fields GitLab's LLM logger writes (ee/lib/gitlab/llm/logger.rb over Gitlab::JsonLogger): severity, time,
# correlation_id, message, class, ai_event_name, ai_component and options such as status and duo_chat_error_code
# (ee/lib/gitlab/llm/chain/answer.rb's error_answer).
def record(severity, message, klass, event, component, **options):
    """One llm.log line as Gitlab::Llm::Logger writes it."""
    return json.dumps(dict({"severity": severity, "time": "2026-11-22T10:00:00.000Z", "correlation_id": "01J0",
                            "message": message, "class": klass, "ai_event_name": event, "ai_component": component},
                           **options))


CLIENT, ANSWER = "Gitlab::Llm::AiGateway::Client", "Gitlab::Llm::Chain::Answer"
LLM_LOG = "\n".join([
    record("INFO", "Received response from AI Gateway", CLIENT, "response_received", "abstraction_layer", status=200),
    record("ERROR", "Error response from AI Gateway", CLIENT, "error_response_received", "abstraction_layer",
           status=401),
    record("ERROR", "Error response from AI Gateway", CLIENT, "error_response_received", "abstraction_layer",
           status=403),
    'not json at all: Connection refused - connect(2) for "aigw" port 5052',
    record("ERROR", "Net::ReadTimeout with #<TCPSocket>", ANSWER, "error_returned", "duo_chat",
           duo_chat_error_code="A1000", source="chat_v2"),
    record("ERROR", "SSL_connect returned=1 errno=0 state=error: certificate verify failed", CLIENT,
           "error_response_received", "abstraction_layer"),
    record("ERROR", "end of file reached", ANSWER, "error_returned", "duo_chat", duo_chat_error_code="A1003",
           source="chat_v2", api_key="sk-live-123"),
    record("INFO", "The answer quotes A9999 and M3006 in prose", ANSWER, "response_received", "duo_chat"),
    record("ERROR", "Gitlab::AiGateway::ForbiddenError", ANSWER, "error_returned", "duo_chat",
           duo_chat_error_code="M3006", source="chat_v2"),
    record("ERROR", "tool not available", "Gitlab::Llm::Chain::Tools::Tool", "error_returned", "duo_chat",
           ai_error_code="G3001"),
]) + "\n"


def test_llm_log_rules_and_redaction():
    hits = rules.classify_llm_log(LLM_LOG.splitlines())
    assert hits["log.unauthorized"]["count"] == 2
    assert {"log.connection_refused", "log.timeout", "log.ssl_verify_failed", "chat.A1000", "chat.A1003",
            "chat.M3006", "chat.G3001"} <= set(hits)
    # Codes are read from the fields GitLab records them in, not from any text that mentions one.
    assert "chat.A9999" not in hits and hits["chat.M3006"]["count"] == 1
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


def test_llm_log_keys_and_urls_are_no_symptom():
    """GitLab's client logs every request with its timeout (ee/lib/gitlab/llm/ai_gateway/client.rb); only the
    words of an event count."""
    healthy = record("INFO", "Performing request to AI Gateway", CLIENT, "performing_request", "abstraction_layer",
                     url="http://timeout.example.com/v1/chat/agent", timeout=60, stream=False)
    assert rules.classify_llm_log([healthy]) == {}
    slow = record("ERROR", "Net::ReadTimeout with #<TCPSocket:(closed)>", CLIENT, "error_response_received",
                  "abstraction_layer", timeout=60)
    assert set(rules.classify_llm_log([slow])) == {"log.timeout"}
