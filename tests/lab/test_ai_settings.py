"""ai_settings against GitLab stand-ins: the generated Ruby runs in real Ruby against stub classes,
the API path talks HTTP to the stand-in API. Both share one database file per instance."""

import subprocess

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.ai_settings import (
    apply_with_api, apply_with_runner, desired_settings)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.api import GitLabApi
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import parse_gitlab_version

from .conftest import run_module


def run_command(command):
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    return completed.returncode, completed.stdout, completed.stderr


def runner_apply(gitlab, desired, check_mode=False, version=None):
    return apply_with_runner(run_command, [gitlab.rails], parse_gitlab_version(version or open(gitlab.version_file).read()),
                             desired, check_mode)


def test_runner_read_compare_update_in_one_call(gitlab_factory):
    gitlab = gitlab_factory("18.2.1-ee")
    desired = desired_settings("https://aigw.example.com/", 300, "aigw.example.com:50052", True)
    checked = runner_apply(gitlab, desired, check_mode=True)
    assert set(checked["changed"]) == set(desired)
    assert gitlab.state["ai_settings"] == {}, "check mode wrote to the database"
    assert gitlab.runner_calls() == 1
    applied = runner_apply(gitlab, desired)
    assert gitlab.runner_calls() == 2
    assert applied["location"] == "Ai::Setting.instance"
    assert applied["before"]["ai_gateway_url"] is None
    assert gitlab.state["ai_settings"] == {"ai_gateway_url": "https://aigw.example.com", "ai_gateway_timeout_seconds": 300,
                                           "duo_agent_platform_service_url": "aigw.example.com:50052",
                                           "enabled_instance_verbose_ai_logs": True}
    again = runner_apply(gitlab, desired_settings("https://aigw.example.com"))
    assert again["changed"] == [] and gitlab.runner_calls() == 3


@pytest.mark.parametrize("version, table, location", [
    ("19.1.3-ee", "ai_settings", "Ai::Setting.instance"),
    ("19.2.0-ee", "application_settings", "ApplicationSetting.current_without_cache"),
    ("19.5.1-ee", "application_settings", "ApplicationSetting.current_without_cache"),
])
def test_settings_location_follows_version(gitlab_factory, version, table, location):
    gitlab = gitlab_factory(version)
    result = runner_apply(gitlab, desired_settings("https://aigw.example.com"))
    assert result["location"] == location
    assert gitlab.state[table]["ai_gateway_url"] == "https://aigw.example.com"


def test_wrong_location_fails_loudly(gitlab_factory):
    """On 19.5 ai_settings has no such column: the Rails error is reported, nothing is written."""
    gitlab = gitlab_factory("19.5.0-ee")
    with pytest.raises(DuoError) as info:
        runner_apply(gitlab, desired_settings("https://aigw.example.com"), version="19.1.0")
    assert "NoMethodError" in info.value.msg
    assert gitlab.state["ai_settings"] == {} and gitlab.state["application_settings"] == {}


def test_values_never_become_ruby_source(gitlab_factory):
    gitlab = gitlab_factory()
    tricky = "https://aigw.example.com/p?x=');exit(3);('"
    runner_apply(gitlab, desired_settings(tricky))
    assert gitlab.state["ai_settings"]["ai_gateway_url"] == tricky


def test_gitlab_refusal_is_reported(gitlab_factory):
    gitlab = gitlab_factory()
    with pytest.raises(DuoError) as info:
        runner_apply(gitlab, desired_settings("http://localhost:5052", allow_local_urls=True))
    assert "GitLab refused the change" in info.value.msg and "blocked" in info.value.msg


def test_bad_rails_command():
    with pytest.raises(DuoError) as info:
        apply_with_runner(run_command, ["/bin/false"], parse_gitlab_version("18.2.1"),
                          desired_settings("https://aigw.example.com"), False)
    assert "printed no result" in info.value.msg and "docker exec" in info.value.msg


@pytest.mark.parametrize("version, table", [("18.2.1-ee", "ai_settings"), ("19.3.0-ee", "application_settings")])
def test_api_path(gitlab_factory, version, table):
    gitlab = gitlab_factory(version)
    api = GitLabApi(gitlab.api_url, gitlab.admin_token)
    desired = desired_settings("https://aigw.example.com/", 120, "aigw.example.com:50052", True)
    checked = apply_with_api(api, desired, check_mode=True)
    assert set(checked["changed"]) == set(desired) and gitlab.state[table] == {}
    applied = apply_with_api(api, desired, check_mode=False)
    assert applied["after"] == desired
    assert gitlab.state[table]["ai_gateway_url"] == "https://aigw.example.com"
    assert gitlab.state[table]["enabled_instance_verbose_ai_logs"] is True
    assert apply_with_api(api, desired, check_mode=False)["changed"] == []
    assert gitlab.runner_calls() == 0


def test_api_rejects_bad_token(gitlab_factory):
    gitlab = gitlab_factory()
    with pytest.raises(DuoError) as info:
        apply_with_api(GitLabApi(gitlab.api_url, "glpat-wrong"), desired_settings("https://aigw.example.com"), False)
    assert "HTTP 401" in info.value.msg and "api scope" in info.value.msg


def test_module_check_diff_and_idempotence(gitlab_factory):
    gitlab = gitlab_factory()
    args = {"ai_gateway_url": "https://aigw.example.com/", "rails_command": [gitlab.rails],
            "version_file": gitlab.version_file}
    rc, result, output = run_module("gitlab_ai_settings", args, "--check", "--diff")
    assert rc == 0 and result["changed"] and "+    \"ai_gateway_url\": \"https://aigw.example.com\"" in output
    assert gitlab.state["ai_settings"] == {}
    rc, result, _output = run_module("gitlab_ai_settings", args)
    assert rc == 0 and result["changed"] and result["rails_runner_calls"] == 1
    rc, result, _output = run_module("gitlab_ai_settings", args)
    assert rc == 0 and not result["changed"]


def test_module_api_token_never_printed(gitlab_factory):
    gitlab = gitlab_factory()
    args = {"ai_gateway_url": "https://aigw.example.com", "api_url": gitlab.api_url, "api_token": gitlab.admin_token}
    rc, result, output = run_module("gitlab_ai_settings", args, "-vvv", "--diff")
    assert rc == 0 and result["method"] == "api"
    assert gitlab.admin_token not in output
