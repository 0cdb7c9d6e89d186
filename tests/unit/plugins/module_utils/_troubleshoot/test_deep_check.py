"""The gateway's own `poetry run troubleshoot`: its options (on the exec's standard input, never its command line),
the wrapper that hands them to the script in-process, its `>> ... ✔` lines read as findings, the model call
through /v1/chat/agent, and run() inside a fake container with the API key redacted from every output."""

import json
import os
import subprocess
import sys

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


def test_the_options_that_are_set_go_on_stdin_and_the_command_line_is_fixed():
    assert deep_check.command({}) == (["poetry", "run", "python", "-c", deep_check.WRAPPER], b"\n")
    argv, stdin = deep_check.command({"endpoint": "localhost:5052", "model_family": "mistral", "model_endpoint": None,
                                      "model_identifier": "", "api_key": API_KEY, "model_name": "ignored"})
    assert argv == ["poetry", "run", "python", "-c", deep_check.WRAPPER] and API_KEY not in repr(argv)
    assert stdin == "--endpoint=localhost:5052\n--model-family=mistral\n--api-key={0}\n\n".format(API_KEY).encode()
    # Before 17.9 the family is --model-name.
    assert deep_check.arguments({"model_family": "mistral"}, (17, 8, 0)) == ["--model-name=mistral"]


@pytest.mark.parametrize("name", ["api_key", "model_endpoint"])
def test_a_value_with_a_newline_is_refused_and_a_key_never_shown(name):
    with pytest.raises(DuoError) as info:
        deep_check.command({name: "sk-first-line\n--endpoint=evil:1"})
    assert info.value.details["field"] == name and "control character" in info.value.msg
    assert name == "model_endpoint" or "sk-first-line" not in info.value.msg


# The script as every release defines its parser (ai_gateway/scripts/troubleshoot_selfhosted_installation.py,
# troubleshoot(): argparse over sys.argv), shortened to its options; it prints what it parsed and its own command
# line, and waits until the test has read the process table.
SCRIPT = """import argparse, json, os, sys, time
def troubleshoot():
    parser = argparse.ArgumentParser(description="Test AI Gateway and model access")
    parser.add_argument("--endpoint", default="localhost:5052")
    parser.add_argument("--model-family", required=False, choices=["mistral", "mixtral", "gpt", "llama3"])
    parser.add_argument("--model-endpoint", required=False, default="http://localhost:4000")
    parser.add_argument("--model-identifier", required=False)
    parser.add_argument("--api-key")
    args = parser.parse_args()
    print(json.dumps(vars(args)), flush=True)
    deadline = time.time() + 10
    while not os.path.exists(os.environ["RELEASE"]) and time.time() < deadline:
        time.sleep(0.05)
    if args.model_family == "gpt":
        raise RuntimeError("model unreachable")
"""


def test_the_wrapper_hands_stdin_to_the_script_in_process_and_no_command_line_holds_the_key(tmp_path):
    package = tmp_path / "ai_gateway" / "scripts"
    package.mkdir(parents=True)
    for directory in (package.parent, package):
        (directory / "__init__.py").write_text("")
    (package / "troubleshoot_selfhosted_installation.py").write_text(SCRIPT)
    release = tmp_path / "release"
    env = dict(os.environ, PYTHONPATH=str(tmp_path), RELEASE=str(release))
    argv, stdin = deep_check.command({"endpoint": "gw:5052", "model_family": "mixtral", "api_key": API_KEY})
    process = subprocess.Popen([sys.executable] + argv[3:], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env)
    process.stdin.write(stdin)
    process.stdin.flush()
    parsed = json.loads(process.stdout.readline())
    assert parsed == {"endpoint": "gw:5052", "model_family": "mixtral", "model_endpoint": "http://localhost:4000",
                      "model_identifier": None, "api_key": API_KEY}
    with open("/proc/{0}/cmdline".format(process.pid), "rb") as handle:
        cmdline = handle.read()
    assert b"troubleshoot_selfhosted_installation" in cmdline and API_KEY.encode() not in cmdline
    release.write_text("")
    assert process.wait(10) == 0
    # A failed check: the script's exception, exit 1, as the console script would end.
    argv, stdin = deep_check.command({"model_family": "gpt"})
    failed = subprocess.run([sys.executable] + argv[3:], input=stdin, capture_output=True, env=env, check=False)
    assert failed.returncode == 1 and failed.stderr.decode().splitlines()[-1] == "RuntimeError: model unreachable"
    # argparse's refusal: exit 2, as with the options on the command line.
    refused = subprocess.run([sys.executable] + argv[3:], input=b"--model-family=claude_3\n\n", capture_output=True,
                             env=env, check=False)
    assert refused.returncode == 2 and "troubleshoot: error: argument --model-family: invalid choice" in \
        refused.stderr.decode()


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
    engine.exec_answers = {"troubleshoot_selfhosted_installation": (1, FAILING),
                           "/v1/chat/agent": (0, '{"response": "Hello! key sk-deep-test-key"}')}
    params = module_params("gateway_deep_check", api_key=API_KEY, endpoint="localhost:5053", model_name="mistral",
                           model_endpoint="http://vllm:8000/v1")
    result = deep_check.run(params)
    assert result["changed"] is False and API_KEY not in json.dumps(result)
    assert "with api_key=<redacted> failed" in result["output"]
    assert [item["id"] for item in result["findings"]] == ["gateway.deep_test_failed", "gateway.model_via_gateway.ok"]
    execs = [call for call in engine.calls if call[0] == "exec"]
    assert API_KEY not in repr([call[2] for call in execs]), "the key was on an exec's command line"
    assert "--api-key={0}\n".format(API_KEY).encode() in execs[0][3], "the key goes on the exec's stdin"
    chat = execs[1][2]
    assert chat[3] == "http://127.0.0.1:5053/v1/chat/agent" and json.loads(chat[4])["stream"] is False
    assert engine.changes()[-1] == ("running", "gitlab-ai-gateway"), "the deep test changed the container"


def test_run_without_a_model_asks_once(engine):
    engine.exec_answers = {"troubleshoot_selfhosted_installation": (0, HEALTHY)}
    result = deep_check.run(module_params("gateway_deep_check"))
    assert [item["id"] for item in result["findings"]] == ["gateway.deep_test.ok"]
    assert [call[2:] for call in engine.calls if call[0] == "exec"] == [
        (["poetry", "run", "python", "-c", deep_check.WRAPPER], b"\n")]


def test_an_image_without_the_script_could_not_run():
    output = ("Traceback (most recent call last):\n  File \"<string>\", line 9, in <module>\nModuleNotFoundError: No "
              "module named 'ai_gateway.scripts.troubleshoot_selfhosted_installation'\n")
    assert [item["id"] for item in deep_check.findings(1, output)] == ["gateway.check_could_not_run"]


def test_run_without_the_container(engine):
    with pytest.raises(DuoError) as info:
        deep_check.run(module_params("gateway_deep_check", name="no-such-gateway"))
    assert info.value.msg == "No container named 'no-such-gateway'. Fix: install the gateway first."
