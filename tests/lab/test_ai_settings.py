"""ai_settings against GitLab stand-ins: the generated Ruby runs in real Ruby against stub classes,
the API path talks HTTP to the stand-in API. Both share one database file per instance."""

import json
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
    gitlab = gitlab_factory("18.6.1-ee")
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


@pytest.mark.parametrize("version, table", [("18.6.1-ee", "ai_settings"), ("19.3.0-ee", "application_settings")])
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


# -- Version-aware: each release is asked only for what it has (items 1 and 3 of issue 8) ------------------------

@pytest.mark.parametrize("version, table", [
    ("17.6.0-ee", "ai_settings"), ("17.9.2-ee", "ai_settings"), ("18.2.1-ee", "ai_settings"),
    ("18.4.0-ee", "ai_settings"), ("19.2.0-ee", "application_settings"), ("19.5.0-ee", "application_settings")])
def test_only_the_url_works_on_every_supported_version_through_the_runner(gitlab_factory, version, table):
    gitlab = gitlab_factory(version)
    result = runner_apply(gitlab, desired_settings("https://aigw.example.com"))
    assert result["changed"] == ["ai_gateway_url"]
    assert gitlab.state[table]["ai_gateway_url"] == "https://aigw.example.com"


@pytest.mark.parametrize("version", ["17.9.2-ee", "18.0.1-ee", "18.2.1-ee", "18.5.3-ee", "19.2.0-ee"])
def test_only_the_url_works_through_the_api_on_versions_without_the_newer_fields(gitlab_factory, version):
    """Before, the query always selected aiGatewayTimeoutSeconds and duoAgentPlatformServiceUrl, which the
    duoSettings type of 17.9-18.5 lacks: GraphQL refused the whole query."""
    gitlab = gitlab_factory(version)
    api = GitLabApi(gitlab.api_url, gitlab.admin_token)
    applied = apply_with_api(api, desired_settings("https://aigw.example.com/"), check_mode=False)
    assert applied["after"] == {"ai_gateway_url": "https://aigw.example.com"}
    assert apply_with_api(api, desired_settings("https://aigw.example.com"), False)["changed"] == []


def test_the_graphql_stand_in_refuses_fields_and_arguments_the_version_lacks(gitlab_factory):
    gitlab = gitlab_factory("18.2.1-ee")
    api = GitLabApi(gitlab.api_url, gitlab.admin_token)
    with pytest.raises(DuoError) as info:
        api.graphql("query { duoSettings { aiGatewayUrl aiGatewayTimeoutSeconds } }")
    assert "Field 'aiGatewayTimeoutSeconds' doesn't exist on type 'DuoSettings'" in info.value.msg
    with pytest.raises(DuoError) as info:
        api.graphql("mutation u($input: DuoSettingsUpdateInput!) { duoSettingsUpdate(input: $input) { errors } }",
                    {"input": {"aiGatewayUrl": "https://a.example.com", "duoAgentPlatformServiceUrl": "a:50052"}})
    assert "duoAgentPlatformServiceUrl (Field is not defined on DuoSettingsUpdateInput)" in info.value.msg
    assert gitlab.state["ai_settings"] == {}
    old = gitlab_factory("17.8.0-ee")
    with pytest.raises(DuoError) as info:
        GitLabApi(old.api_url, old.admin_token).graphql("query { duoSettings { aiGatewayUrl } }")
    assert "Field 'duoSettings' doesn't exist on type 'Query'" in info.value.msg


@pytest.mark.parametrize("path", ["runner", "api"])
@pytest.mark.parametrize("version, setting, value, since", [
    ("18.2.1-ee", "duo_agent_platform_service_url", "aigw.example.com:50052", "18.4"),
    ("18.4.2-ee", "ai_gateway_timeout_seconds", 120, "18.6"),
    ("17.8.1-ee", "enabled_instance_verbose_ai_logs", True, "17.9"),
])
def test_a_setting_the_version_lacks_is_a_clear_error_naming_its_release(
        gitlab_factory, path, version, setting, value, since):
    gitlab = gitlab_factory(version)
    desired = desired_settings("https://aigw.example.com", **{setting: value})
    with pytest.raises(DuoError) as info:
        if path == "runner":
            runner_apply(gitlab, desired)
        else:
            apply_with_api(GitLabApi(gitlab.api_url, gitlab.admin_token), desired, False)
    assert "{0} (added in GitLab {1})".format(setting, since) in info.value.msg
    assert "GitLab " + version.split("-")[0] in info.value.msg and "leave " + setting + " unset" in info.value.msg
    assert gitlab.state["ai_settings"] == {} and gitlab.runner_calls() == 0


@pytest.mark.parametrize("path", ["runner", "api"])
def test_before_17_6_duo_self_hosted_is_refused(gitlab_factory, path):
    gitlab = gitlab_factory("17.5.3-ee")
    with pytest.raises(DuoError) as info:
        if path == "runner":
            runner_apply(gitlab, desired_settings("https://aigw.example.com"))
        else:
            apply_with_api(GitLabApi(gitlab.api_url, gitlab.admin_token), desired_settings("https://aigw.example.com"),
                           False)
    assert "Duo Self-Hosted needs GitLab 17.6 or later; this instance runs 17.5.3" in info.value.msg


def test_a_permission_refusal_names_every_condition(gitlab_factory):
    gitlab = gitlab_factory("18.6.0-ee")
    state = gitlab.state
    state["add_ons"] = ["duo_pro"]
    with open(gitlab.home + "/state.json", "w") as handle:
        json.dump(state, handle)
    with pytest.raises(DuoError) as info:
        apply_with_api(GitLabApi(gitlab.api_url, gitlab.admin_token), desired_settings("https://aigw.example.com"),
                       False)
    message = info.value.msg
    assert "You don't have permission to update the setting ai_gateway_url" in message
    for condition in ("administrator", "self-hosted models feature", "Duo Enterprise", "Amazon Q"):
        assert condition in message, condition
    assert gitlab.state["ai_settings"] == {}


def test_a_rest_read_without_the_verbose_logs_field_is_reported_not_re_put(gitlab_factory):
    gitlab = gitlab_factory("18.6.0-ee")
    state = gitlab.state
    state["license"] = {"plan": "premium", "features": ["code_suggestions", "self_hosted_models"]}
    with open(gitlab.home + "/state.json", "w") as handle:
        json.dump(state, handle)
    api = GitLabApi(gitlab.api_url, gitlab.admin_token)
    for _attempt in range(2):
        with pytest.raises(DuoError) as info:
            apply_with_api(api, desired_settings("https://aigw.example.com", enabled_instance_verbose_ai_logs=True),
                           False)
        assert "has no enabled_expanded_logging field" in info.value.msg and "AI features" in info.value.msg
    with open(gitlab.home + "/api.log") as handle:
        assert "PUT /api/v4/application/settings" not in handle.read()
    assert "enabled_instance_verbose_ai_logs" not in gitlab.state["ai_settings"]


def test_19_2_loses_the_url_and_19_3_restores_it(gitlab_factory):
    gitlab = gitlab_factory("19.1.0-ee")
    runner_apply(gitlab, desired_settings("https://aigw.example.com"))
    with open(gitlab.version_file, "w") as handle:
        handle.write("19.2.0-ee\n")
    assert runner_apply(gitlab, desired_settings("https://aigw.example.com"), check_mode=True)["before"] == {
        "ai_gateway_url": None}, "19.2 reads the application settings, still at their defaults"
    with open(gitlab.version_file, "w") as handle:
        handle.write("19.3.0-ee\n")
    restored = runner_apply(gitlab, desired_settings("https://aigw.example.com"), check_mode=True)
    assert restored["before"] == {"ai_gateway_url": "https://aigw.example.com"} and restored["changed"] == []


@pytest.mark.parametrize("version, keyword, accepted", [
    ("17.10.0-ee", "service_name", True), ("17.10.0-ee", "unit_primitive_name", False),
    ("18.9.0-ee", "unit_primitive_name", True), ("18.9.0-ee", "service_name", False)])
def test_stub_signatures_are_strict_like_ruby(gitlab_factory, version, keyword, accepted):
    gitlab = gitlab_factory(version)
    code = ("begin; puts User.find_by_username('duo-user').allowed_to_use?(:code_suggestions, {0}: "
            ":self_hosted_models).inspect; rescue ArgumentError => e; puts \"ArgumentError: #{{e.message}}\"; end"
            ).format(keyword)
    _rc, stdout, _stderr = run_command([gitlab.rails, "runner", code])
    if accepted:
        assert stdout.strip() == "true", stdout
    else:
        assert stdout.strip() == "ArgumentError: unknown keyword: :{0}".format(keyword), stdout
