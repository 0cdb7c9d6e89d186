"""The runner envelope: values as base64 JSON, the result line, and secrets on standard input only."""

import base64
import json
import re

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab import rails as _rails
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.gitlab_checks import gather
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.release import parse_gitlab_version


class Runner:
    def __init__(self, stdout=_rails.RESULT_MARKER + '{"ok": true}\n'):
        self.stdout = stdout
        self.calls = []

    def __call__(self, argv, data=None):
        self.calls.append((argv, data))
        return 0, self.stdout, ""


def sent_request(argv):
    return json.loads(base64.b64decode(re.search(r"strict_decode64\('([^']+)'\)", argv[-1]).group(1)))


def test_model_key_goes_on_stdin_never_on_the_command_line():
    run = Runner()
    gather(run, ["docker", "exec", "-i", "gitlab", "gitlab-rails"], parse_gitlab_version("18.2.1-ee"), "duo-user",
           {"model": "mistral", "model_endpoint": "http://vllm:8000/v1", "model_api_key": "sk-secret-key"})
    (argv, data), = run.calls
    assert argv[:6] == ["docker", "exec", "-i", "gitlab", "gitlab-rails", "runner"]
    assert data == "sk-secret-key"
    assert "sk-secret-key" not in json.dumps(argv) and "sk-secret-key" not in json.dumps(sent_request(argv))
    assert sent_request(argv)["round_trip"] == {"model": "mistral", "model_endpoint": "http://vllm:8000/v1",
                                                "api_key_on_stdin": True}


def test_no_key_no_stdin():
    run = Runner()
    gather(run, None, parse_gitlab_version("19.2.0-ee"), None, {"model": "mistral"})
    (argv, data), = run.calls
    assert argv[0] == "gitlab-rails" and data is None
    assert sent_request(argv)["round_trip"]["api_key_on_stdin"] is False
    gather(run, None, parse_gitlab_version("19.2.0-ee"))
    assert sent_request(run.calls[-1][0])["round_trip"] is None


def test_values_are_never_ruby_source_and_errors_name_the_prefix():
    script = _rails.script("request", {"url": "'; system('rm -rf /') #"})
    assert "system(" not in script
    with pytest.raises(DuoError) as info:
        _rails.run(Runner(stdout="bash: gitlab-rails: command not found"), ["gitlab-rails"], "{}", {})
    assert "printed no result" in info.value.msg and "docker exec -i <container> gitlab-rails" in info.value.msg
    with pytest.raises(DuoError) as info:
        _rails.run(Runner(stdout=_rails.RESULT_MARKER + '{"ok": false, "error": "ActiveRecord::RecordInvalid"}'),
                   None, "{}", {})
    assert "GitLab refused the change: ActiveRecord::RecordInvalid" in info.value.msg
