"""GitLab-side diagnostics: the facts read as findings, GitLab's verify task, llm.log, and diagnose() end to end in
ONE runner call of the lab's Ruby stand-in against a gateway on loopback; the model key travels on stdin only."""

import json

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import gitlab_checks
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import (
    STANDIN_RAILS, Answer, LoopbackHTTP, Runner, Standin, gateway_routes, module_params, needs_ruby)

MODEL_KEY = "sk-model-key-on-stdin"
HEALTHY_FACTS = {
    "settings": {"ai_gateway_url": "https://aigw.example.com/", "duo_agent_platform_service_url": "aigw:50052",
                 "enabled_instance_verbose_ai_logs": True},
    "user": {"found": True, "can_access_code_suggestions": True, "ability_allowed": True, "allowed_to_use": True},
    "features_self_hosted": {"value": True}, "healthz": {"code": 200},
    "round_trip": {"code": 200, "body": '{"response": "Hello"}'}}


def ids(findings):
    return [item["id"] for item in findings]


def test_healthy_facts_pass():
    found = gitlab_checks.fact_findings(HEALTHY_FACTS, "https://aigw.example.com")
    assert all(item["severity"] == "ok" for item in found)
    assert ids(found) == ["gitlab.ai_gateway_url.ok", "gitlab.user_access.ok", "gitlab.features_self_hosted.ok",
                          "gitlab.model_round_trip.ok", "gitlab.gateway_reachable.ok"]


def test_each_fact_gone_wrong_has_its_finding():
    facts = {"settings": {"ai_gateway_url": "https://old-gw.example.com", "enabled_instance_verbose_ai_logs": False,
                          "duo_agent_platform_service_url": "https://aigw:50052"},
             "legacy_env_url": "http://legacy:5052", "self_sign_tokens": "1",
             "user": {"found": True, "can_access_code_suggestions": False, "ability_allowed": True,
                      "allowed_to_use": True},
             "features_self_hosted": {"error": "NameError: uninitialized constant Ai::FeatureSetting"},
             "healthz": {"error": "Errno::ECONNREFUSED: Connection refused"},
             "round_trip": {"code": 403, "body": "Forbidden by auth provider"}}
    found = {item["id"]: item["evidence"] for item in gitlab_checks.fact_findings(facts, "https://aigw.example.com")}
    assert found == {
        "gitlab.ai_gateway_url_mismatch": "ai_gateway_url='https://old-gw.example.com', expected 'https://aigw.example.com'",
        "gitlab.legacy_ai_gateway_url_env": "AI_GATEWAY_URL=http://legacy:5052",
        "gitlab.self_sign_tokens_on": "CLOUD_CONNECTOR_SELF_SIGN_TOKENS=1",
        "gitlab.agent_platform_url_has_scheme": "duo_agent_platform_service_url=https://aigw:50052",
        "gitlab.verbose_ai_logs_off": "enabled_instance_verbose_ai_logs is false",
        "gitlab.user_no_code_suggestions_access": "can_access_code_suggestions=False, ability_allowed=True, "
                                                  "allowed_to_use=True",
        "gitlab.model_round_trip_failed": "HTTP 403: Forbidden by auth provider",
        # A check that raised has no verdict: it says it could not run (the last such one is kept in this dict).
        "gitlab.check_could_not_run": "GET healthz from Rails: could not run: Errno::ECONNREFUSED: Connection refused"}
    could_not_run = [item["evidence"] for item in gitlab_checks.fact_findings(facts, "https://aigw.example.com")
                     if item["id"] == "gitlab.check_could_not_run"]
    assert could_not_run[0] == ("self-hosted feature settings: could not run: NameError: uninitialized constant "
                                "Ai::FeatureSetting")


def test_unreadable_or_empty_settings():
    unreadable = gitlab_checks.fact_findings({"settings": {"error": "NoMethodError: ai_gateway_url"}})
    assert ids(unreadable)[0] == "gitlab.check_could_not_run" and "gitlab.ai_gateway_url_unset" not in ids(unreadable)
    assert unreadable[0]["evidence"] == "reading the AI settings: could not run: NoMethodError: ai_gateway_url"
    assert "gitlab.user_access.ok" not in ids(unreadable) and "gitlab.gateway_reachable.ok" not in ids(unreadable)


def test_rake_findings():
    failed = gitlab_checks.rake_findings({"checks": [{"status": "passed", "text": "License"},
                                                     {"status": "failed", "text": "AI Gateway URL unset"}],
                                          "counts": {"passed": 1, "failed": 1, "warning": 0}})
    assert ids(failed) == ["gitlab.verify_task_failed"] and failed[0]["evidence"] == "AI Gateway URL unset"
    ok = gitlab_checks.rake_findings({"checks": [{"status": "passed", "text": "License"}] * 3
                                      + [{"status": "warning", "text": "No self-hosted models configured"}],
                                      "counts": {"passed": 3, "failed": 0, "warning": 1}})
    assert ok[0]["evidence"] == "3 passed, 1 warning(s): No self-hosted models configured"
    silent = gitlab_checks.rake_findings({"checks": [], "counts": {"passed": 0, "failed": 0, "warning": 0}})
    assert ids(silent) == ["gitlab.check_could_not_run"], "a run that printed no mark is no pass"


def test_tail_lines_reads_only_the_end(tmp_path):
    log = tmp_path / "llm.log"
    log.write_text("".join("line {0}\n".format(n) for n in range(1000)))
    assert gitlab_checks.tail_lines(str(log), 3) == ["line 997", "line 998", "line 999"]
    assert gitlab_checks.tail_lines(str(log), 100, max_bytes=20) == ["line 998", "line 999"], "a cut line is dropped"


def test_llm_log_findings(tmp_path):
    (missing,) = gitlab_checks.llm_log_findings(str(tmp_path / "none.log"), 10)
    assert missing["id"] == "gitlab.no_llm_log"
    log = tmp_path / "llm.log"
    log.write_text('{"severity":"INFO","message":"Received response from AI Gateway","status":200}\n')
    (clean,) = gitlab_checks.llm_log_findings(str(log), 10)
    assert clean["id"] == "gitlab.llm_log.ok" and clean["evidence"] == "no known error pattern in the last 10 lines"


@pytest.fixture()
def gateway():
    routes = gateway_routes()
    routes[("POST", "/v1/chat/agent")] = Answer(200, {"response": "Hello from the model"})
    with LoopbackHTTP(routes) as server:
        yield server


def standin_state(gateway_url):
    return {"ai_settings": {"ai_gateway_url": gateway_url, "enabled_instance_verbose_ai_logs": True},
            "application_settings": {}, "users": {"duo-user": {"id": 2, "code_suggestions": True}},
            "feature_settings": [{"feature": "code_completions", "provider": "self_hosted"}]}


@needs_ruby
def test_diagnose_in_one_runner_call(tmp_path, gateway):
    gitlab = Standin(tmp_path, "18.2.1-ee", standin_state(gateway.url))
    log = tmp_path / "llm.log"
    log.write_text('{"message":"Performing request to AI Gateway","status":200,"token":"glpat-in-log"}\n')
    params = module_params("gitlab_diagnostics", rails_command=[STANDIN_RAILS], version_file=gitlab.version_file,
                           user="duo-user", expected_ai_gateway_url=gateway.url, llm_log=str(log),
                           collect_excerpts=True, round_trip={"model": "mistral", "model_api_key": MODEL_KEY,
                                                              "model_endpoint": "http://vllm:8000/v1"})
    result = gitlab_checks.diagnose(params, gitlab)
    assert result["worst"] == "ok", [item for item in result["findings"] if item["severity"] != "ok"]
    assert result["rails_runner_calls"] == 1 and len(gitlab.calls) == 1
    (argv, data), = gitlab.calls
    assert data == MODEL_KEY and MODEL_KEY not in " ".join(argv)
    posted = [request for request in gateway.requests if request["method"] == "POST"]
    assert json.loads(posted[0]["body"])["prompt_components"][0]["payload"]["model_api_key"] == MODEL_KEY
    assert MODEL_KEY not in json.dumps(result)
    assert sorted(result["excerpts"]) == ["facts.json", "llm.log"]
    assert '"token":"<redacted>"' in result["excerpts"]["llm.log"]
    assert gitlab.state["ai_settings"] == standin_state(gateway.url)["ai_settings"], "diagnosis changed a setting"


@needs_ruby
def test_diagnose_with_the_verify_task_and_a_restored_marker(tmp_path, gateway):
    gitlab = Standin(tmp_path, "18.2.1-ee", standin_state(gateway.url))
    rake = Runner((0, "AI Gateway\n✔ URL set\n✗ Gateway answered 401 to Authorization: Bearer glpat-xyz\n", ""))

    def run_command(argv, data=None):
        return (rake if argv[0] == "gitlab-rake" else gitlab)(argv, data)

    params = module_params("gitlab_diagnostics", rails_command=[STANDIN_RAILS], version_file=gitlab.version_file,
                           run_rake=True, restored_verbose_logs=True, llm_log=str(tmp_path / "none.log"),
                           collect_excerpts=True)
    result = gitlab_checks.diagnose(params, run_command)
    assert ids(result["findings"])[0] == "gitlab.verbose_ai_logs_restored"
    assert "gitlab.verify_task_failed" in ids(result["findings"]) and "gitlab.no_llm_log" in ids(result["findings"])
    assert result["rails_runner_calls"] == 2 and rake.calls[0][0] == ["gitlab-rake", "gitlab:duo:verify_self_hosted_setup"]
    assert "glpat-xyz" not in result["excerpts"]["verify_self_hosted_setup.txt"]


@needs_ruby
def test_the_whole_result_is_scrubbed_of_every_secret_it_was_given(tmp_path, gateway):
    """Secrets in no credential shape, where GitLab's output quotes them: a token inside the legacy AI_GATEWAY_URL
    (a fact and a finding's evidence), a token in an llm.log message, the model key in the verify task's output."""
    token, key = "plainTokenNoShape9f8e7d", "modelKeyNoShape7a6b5c"
    state = dict(standin_state(gateway.url), env={"AI_GATEWAY_URL": "http://gw.internal:5052/" + token})
    gitlab = Standin(tmp_path, "18.2.1-ee", state)
    log = tmp_path / "llm.log"
    log.write_text('{"message":"AI Gateway refused %s","status":401}\n' % token)
    rake = Runner((1, "   Testing model: mistral (mistral)...\n     ✗ Model endpoint failed: key %s\n" % key, ""))

    def run_command(argv, data=None):
        return (rake if argv[0] == "gitlab-rake" else gitlab)(argv, data)

    given = dict(rails_command=[STANDIN_RAILS], version_file=gitlab.version_file, user="duo-user", run_rake=True,
                 llm_log=str(log), collect_excerpts=True, round_trip={"model": "mistral", "model_api_key": key})
    unscrubbed = json.dumps(gitlab_checks.diagnose(module_params("gitlab_diagnostics", **given), run_command))
    assert token in unscrubbed, "the planted token must reach the result for this test to mean anything"
    result = gitlab_checks.diagnose(module_params("gitlab_diagnostics", secrets=[token], **given), run_command)
    text = json.dumps(result)
    assert token not in text and key not in text
    assert result["facts"]["legacy_env_url"] == "http://gw.internal:5052/<redacted>"
    assert "gitlab.legacy_ai_gateway_url_env" in ids(result["findings"])
    assert "<redacted>" in result["excerpts"]["llm.log"] and "<redacted>" in result["excerpts"][
        "verify_self_hosted_setup.txt"]


WS = "https://gitlab.example.com/api/v4/ai/duo_workflows/ws"


@pytest.mark.parametrize("fact, finding_id, evidence", [
    ({"status": "ok", "http_status": 101, "url": WS}, "gitlab.agent_platform_websocket.ok", "HTTP 101 at " + WS),
    ({"status": "not_upgraded", "http_status": 400, "url": WS}, "gitlab.agent_platform_websocket_failed",
     WS + ": HTTP 400 instead of 101: the Upgrade and Connection headers did not reach GitLab"),
    ({"status": "rejected", "http_status": 403, "url": WS, "tls_verified": False},
     "gitlab.agent_platform_websocket_failed", WS + ": HTTP 403: the request reached GitLab but was not authorized; "
     "TLS certificate not trusted (verification skipped)"),
    ({"status": "error", "url": WS, "failure": "Errno::ECONNREFUSED: Connection refused"},
     "gitlab.agent_platform_websocket_failed", WS + ": could not reach it: Errno::ECONNREFUSED: Connection refused"),
    ({"error": "NameError: uninitialized constant Ai::DuoWorkflows"}, "gitlab.check_could_not_run",
     "the Agent Platform WebSocket upgrade: could not run: NameError: uninitialized constant Ai::DuoWorkflows"),
])
def test_the_websocket_upgrade_check_as_gitlab_classifies_it(fact, finding_id, evidence):
    (found,) = gitlab_checks.fact_findings({"settings": {"ai_gateway_url": "https://gw", "present": []},
                                            "websocket": fact})[-1:]
    assert (found["id"], found["evidence"]) == (finding_id, evidence)
