"""The gateway's own `poetry run troubleshoot`: its command line, its `>> ... ✔` lines read as findings, the model
call through /v1/chat/agent, and run() inside a fake container with the API key redacted from every output."""

import json

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import deep_check
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import FakeDocker, module_params

API_KEY = "sk-deep-test-key"
HEALTHY = """Loading environment
>> Checking environment variables ✔
>> Checking the health endpoint ✔
>> Checking the GitLab API ✔
"""
FAILING = """>> Checking environment variables ✔
>> Checking the model endpoint ✗
Connecting to http://vllm:8000/v1 with api_key=sk-deep-test-key failed
"""


def test_command_has_only_the_options_that_are_set():
    assert deep_check.command({}) == ["poetry", "run", "troubleshoot"]
    assert deep_check.command({"endpoint": "localhost:5052", "model_family": "mistral", "model_endpoint": None,
                               "model_identifier": "", "api_key": API_KEY, "model_name": "ignored"}) == [
        "poetry", "run", "troubleshoot", "--endpoint=localhost:5052", "--model-family=mistral",
        "--api-key=" + API_KEY]


def test_parse_passed_and_failed_steps():
    output = FAILING + ("  >> Checking the system exchange ✘\nTraceback (most recent call last):\n"
                        '  File "troubleshoot.py", line 9, in main\nRuntimeError: boom\n')
    passed_steps, failed_steps = deep_check.parse(output)
    assert passed_steps == ["Checking environment variables"]
    # The marked steps, then the traceback's cause (its last line), never "Traceback (most recent call last):".
    assert failed_steps[:2] == ["Checking the model endpoint", "Checking the system exchange"]
    assert "RuntimeError: boom" in failed_steps[-1] and not any("Traceback" in step for step in failed_steps)
    assert deep_check.parse(None) == ([], [])


def test_findings():
    (ok,) = deep_check.findings(0, HEALTHY)
    assert (ok["id"], ok["severity"], ok["evidence"]) == ("gateway.deep_test.ok", "ok", "3 step(s) passed")
    (failed,) = deep_check.findings(1, FAILING)
    assert (failed["id"], failed["severity"]) == ("gateway.deep_test_failed", "critical")
    assert failed["evidence"] == "Checking the model endpoint" and failed["remedy"].startswith("Fix the first failed")
    (crashed,) = deep_check.findings(127, "sh: poetry: not found\n")
    assert crashed["id"] == "gateway.check_could_not_run"
    assert crashed["evidence"] == "poetry run troubleshoot: could not run: exit code 127: sh: poetry: not found"


def test_chat_agent_body_and_findings():
    body = json.loads(deep_check.chat_agent_body("mistral", "http://vllm:8000/v1"))
    assert body["stream"] is False
    assert body["prompt_components"][0]["payload"] == {"content": "Hello", "provider": "litellm", "model": "mistral",
                                                       "model_endpoint": "http://vllm:8000/v1"}
    assert "model_endpoint" not in json.loads(deep_check.chat_agent_body("mistral", None))["prompt_components"][0][
        "payload"]
    (ok,) = deep_check.chat_agent_findings(0, '{"response": "Hi"}', "mistral", None)
    assert ok["id"] == "gateway.model_via_gateway.ok" and "mistral" in ok["evidence"]
    (failed,) = deep_check.chat_agent_findings(1, "server returned error: HTTP 500 model not found", "mistral",
                                               "http://vllm:8000/v1")
    assert failed["severity"] == "critical" and failed["evidence"] == (
        "model 'mistral' at 'http://vllm:8000/v1': server returned error: HTTP 500 model not found")


@pytest.fixture()
def engine(monkeypatch):
    client = FakeDocker(local=["gw:1"])
    monkeypatch.setattr(deep_check, "docker_client", lambda docker_host, timeout=60: client)
    client.containers.create("gw:1", name="gitlab-ai-gateway").start()
    return client


def test_run_redacts_the_key_and_asks_the_model(engine):
    engine.exec_answers = {"poetry run troubleshoot": (1, FAILING),
                           "/v1/chat/agent": (0, '{"response": "Hello! key sk-deep-test-key"}')}
    params = module_params("gateway_deep_check", api_key=API_KEY, endpoint="localhost:5053", model_name="mistral",
                           model_endpoint="http://vllm:8000/v1")
    result = deep_check.run(params)
    assert result["changed"] is False and API_KEY not in json.dumps(result)
    assert "with api_key=<redacted> failed" in result["output"]
    assert [item["id"] for item in result["findings"]] == ["gateway.deep_test_failed", "gateway.model_via_gateway.ok"]
    chat = [call[2] for call in engine.calls if call[0] == "exec"][1]
    assert chat[3] == "http://127.0.0.1:5053/v1/chat/agent" and json.loads(chat[4])["stream"] is False
    assert engine.changes()[-1] == ("running", "gitlab-ai-gateway"), "the deep test changed the container"


def test_run_without_a_model_asks_once(engine):
    engine.exec_answers = {"poetry run troubleshoot": (0, HEALTHY)}
    result = deep_check.run(module_params("gateway_deep_check"))
    assert [item["id"] for item in result["findings"]] == ["gateway.deep_test.ok"]
    assert [call[2] for call in engine.calls if call[0] == "exec"] == [["poetry", "run", "troubleshoot"]]


def test_run_without_the_container(engine):
    with pytest.raises(DuoError) as info:
        deep_check.run(module_params("gateway_deep_check", name="no-such-gateway"))
    assert info.value.msg == "No container named 'no-such-gateway'. Fix: install the gateway first."
