"""GitLab's verify task as it really prints (ee/lib/gitlab/duo/administration/verify_self_hosted_setup.rb, 18.9):
marks at the END of most lines, request-flow marks at the start, and a fatal problem raised (rake aborted!)."""

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.rake_verify import (
    abort_cause, parse, run, task_name)

BANNER = """═══════════════════════════════════════════════════════════════
GitLab Duo Self-Hosted Setup Verification
═══════════════════════════════════════════════════════════════
This task will help you debug issues with your self-hosted Duo installation.
For additional logs, enable 'enabled_instance_verbose_ai_logs' instance setting via
Rails console:
```
::Ai::Setting.instance.update!(enabled_instance_verbose_ai_logs: true)
```

Collecting system information...
>> System info collected ✔

Verifying AI Gateway URL configuration...
>> AI Gateway URL configured: https://aigw.example.com ✔

"""
HEALTHY = BANNER + """Verifying license access to code suggestions... ✔
Checking AI Gateway accessibility...
>> AI Gateway server is accessible ✔
   Response time: 12.3ms
   Health status: ok
Checking self-hosted model configuration...
   mistral (mistral): http://vllm.example.com:8000/v1 ✔
     Release state: GA | Provider: openai
     API token: Missing
   codestral (codestral): http://vllm.example.com:8001/v1 ⚡
     Release state: EXPERIMENTAL | Provider: openai
     API token: Configured

Checking feature settings and model assignments...
   2 feature settings configured across 1 models ✔
     mistral: 2 feature(s) assigned (code_completions, code_generations)

Testing request flow to configured models...
   Testing model: mistral (mistral)...
     ✔ Model endpoint accessible
   Testing model: codestral (codestral)...
     ✗ Model endpoint failed: SocketError


═══════════════════════════════════════════════════════════════
DIAGNOSTIC SUMMARY (sanitize before sharing with support)
═══════════════════════════════════════════════════════════════
{
  "system": {"gitlab_version": "18.9.0", "user": "duo-user"},
  "request_flow": {"status": "OK", "models_tested": 2}
}

NOTE: Review the above output and remove any sensitive information
before sharing with GitLab support.
"""
WARNINGS = BANNER + """Verifying license access to code suggestions... ✔
Checking AI Gateway accessibility...
>> AI Gateway server is accessible ✔
   Response time: 3.1ms
   Health status: ok
Checking self-hosted model configuration...
   No self-hosted models configured ⚠

Checking feature settings and model assignments...
   No feature settings configured ⚠
   Models may not be available for any GitLab Duo features

Testing request flow to configured models...
   Skipping request flow test - no models configured


═══════════════════════════════════════════════════════════════
DIAGNOSTIC SUMMARY (sanitize before sharing with support)
═══════════════════════════════════════════════════════════════
{
  "self_hosted_models": {"status": "WARNING", "count": 0}
}
"""
UNREACHABLE_OUT = BANNER + """Verifying license access to code suggestions... ✔
Checking AI Gateway accessibility...
   Connection error: Errno::ECONNREFUSED - Failed to open TCP connection to aigw.example.com:443 \
(Connection refused - connect(2) for "aigw.example.com" port 443)
"""
RAKE_TAIL = """/opt/gitlab/embedded/service/gitlab-rails/ee/lib/gitlab/duo/administration/verify_self_hosted_setup.rb:215:in `verify_aigateway_access!'
/opt/gitlab/embedded/service/gitlab-rails/ee/lib/tasks/gitlab/duo.rake:38:in `block (3 levels) in <top (required)>'
/opt/gitlab/embedded/bin/bundle:25:in `<main>'
Tasks: TOP => gitlab:duo:verify_self_hosted_setup
(See full trace by running task with --trace)
"""
UNREACHABLE_ERR = """rake aborted!
Cannot access AI Gateway. Possible causes:
- AI Gateway is not running
- 'Ai::Setting.instance.ai_gateway_url' has an incorrect value
- Network configuration doesn't allow communication between GitLab and AI Gateway
- Firewall blocking the connection
- SSL/TLS certificate issues (if using HTTPS)

""" + RAKE_TAIL


def test_healthy_run_marks_at_line_end_and_start():
    result = parse(HEALTHY)
    assert not result["aborted"] and result["cause"] is None
    assert result["counts"] == {"passed": 7, "failed": 1, "warning": 1}
    assert {"section": "Checking AI Gateway accessibility", "status": "passed",
            "text": "AI Gateway server is accessible"} in result["checks"]
    assert {"section": "Verifying license access to code suggestions", "status": "passed",
            "text": "Verifying license access to code suggestions"} in result["checks"]
    failed = [check for check in result["checks"] if check["status"] == "failed"]
    assert failed == [{"section": "Testing request flow to configured models", "status": "failed",
                       "text": "Model endpoint failed: SocketError"}]
    assert result["summary"]["request_flow"] == {"status": "OK", "models_tested": 2}


def test_warning_run_is_no_failure():
    result = parse(WARNINGS, "", 0)
    assert result["counts"] == {"passed": 4, "failed": 0, "warning": 2} and not result["aborted"]
    assert result["checks"][-1] == {"section": "Checking feature settings and model assignments",
                                    "status": "warning", "text": "No feature settings configured"}


@pytest.mark.parametrize("stdout, stderr, cause", [
    (UNREACHABLE_OUT, UNREACHABLE_ERR, "Cannot access AI Gateway. Possible causes: - AI Gateway is not running"),
    (BANNER.split("Verifying AI Gateway URL", maxsplit=1)[0] + "Verifying AI Gateway URL configuration...\n",
     "rake aborted!\nSet 'Ai::Setting.instance.ai_gateway_url' to point to your AI Gateway instance\n" + RAKE_TAIL,
     "Set 'Ai::Setting.instance.ai_gateway_url' to point to your AI Gateway instance"),
    (BANNER + "Verifying license access to code suggestions... ✗\nUser duo-user has no access to code suggestions, "
     "debugging cause...\n", "rake aborted!\nLicense is correct, but user does not have access to code suggestions.\n"
     "Please check user permissions and submit an issue to GitLab if needed.\n" + RAKE_TAIL,
     "License is correct, but user does not have access to code suggestions. Please check user permissions"),
    ("", "rake aborted!\nActiveRecord::RecordNotFound: Couldn't find User\n" + RAKE_TAIL,
     "ActiveRecord::RecordNotFound: Couldn't find User"),
])
def test_aborted_runs_are_failures_quoting_the_raised_message(stdout, stderr, cause):
    result = parse(stdout, stderr, 1)
    assert result["aborted"] and result["summary"] is None
    assert result["cause"].startswith(cause), result["cause"]
    assert "Tasks: TOP" not in result["cause"] and ".rb:" not in result["cause"]


def test_non_zero_exit_without_summary_is_aborted_even_without_rake_aborted():
    result = parse(BANNER, "Killed\n", 137)
    assert result["aborted"] and "exit code 137" in result["cause"] and "Killed" in result["cause"]
    assert abort_cause("no abort here") is None


def test_module_answer_for_an_aborted_run():
    def fake(command):
        return 1, UNREACHABLE_OUT, UNREACHABLE_ERR
    params = {"rake_command": ["gitlab-rake"], "user": "duo-user", "fail_on_failed": False}
    result = run(params, fake)
    assert result["ok"] is False and result["aborted"] and result["counts"]["failed"] == 0
    with pytest.raises(DuoError) as info:
        run(dict(params, fail_on_failed=True), fake)
    assert "rake aborted" in info.value.msg and "Cannot access AI Gateway" in info.value.msg


def test_module_answer_for_a_healthy_run():
    result = run({"rake_command": ["gitlab-rake"], "user": None, "fail_on_failed": False},
                 lambda command: (0, WARNINGS, ""))
    assert result["ok"] is True and result["exit_code"] == 0


def test_task_name():
    assert task_name() == "gitlab:duo:verify_self_hosted_setup"
    assert task_name("bob") == "gitlab:duo:verify_self_hosted_setup[bob]"
