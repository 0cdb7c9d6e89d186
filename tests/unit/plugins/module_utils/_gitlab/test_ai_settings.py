"""GitLab's instance AI settings: validation, where they live per version, and apply() through ONE gitlab-rails runner
call (the lab's Ruby stand-in runs the real generated Ruby) or through the API (a loopback GraphQL/REST fake):
check mode writes nothing, the diff shows before/after, a second run changes nothing."""

import json

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab import ai_settings
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.rails import RESULT_MARKER
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import parse_gitlab_version
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import (
    STANDIN_RAILS, Answer, LoopbackHTTP, Runner, Standin, module_params, needs_ruby)

TOKEN = "glpat-admin-unit"
ALL = {"ai_gateway_url": "https://aigw.example.com/", "ai_gateway_timeout_seconds": 300,
       "duo_agent_platform_service_url": "aigw.example.com:50052", "enabled_instance_verbose_ai_logs": True}
NORMALISED = dict(ALL, ai_gateway_url="https://aigw.example.com")


# -- validation and location --------------------------------------------------------------------------------

def test_desired_settings_normalises_and_keeps_only_given_ones():
    assert ai_settings.desired_settings(**ALL) == NORMALISED
    assert ai_settings.desired_settings("https://aigw.example.com/", enabled_instance_verbose_ai_logs=0) == {
        "ai_gateway_url": "https://aigw.example.com", "enabled_instance_verbose_ai_logs": False}
    assert ai_settings.desired_settings("http://localhost:5052", allow_local_urls=True) == {
        "ai_gateway_url": "http://localhost:5052"}


@pytest.mark.parametrize("given, field, words", [
    ({"ai_gateway_url": "aigw.example.com"}, "ai_gateway_url", "write the full URL with its scheme"),
    ({"ai_gateway_url": "http://127.0.0.1:5052"}, "ai_gateway_url", "allow_local_urls=true"),
    ({"ai_gateway_url": "https://gw", "ai_gateway_timeout_seconds": 59}, "ai_gateway_timeout_seconds", "60 to 600"),
    ({"ai_gateway_url": "https://gw", "ai_gateway_timeout_seconds": 601}, "ai_gateway_timeout_seconds", "60 to 600"),
    ({"duo_agent_platform_service_url": "https://gw.example.com:50052"}, "duo_agent_platform_service_url",
     "give host:port only, e.g. gw.example.com:50052"),
    ({"duo_agent_platform_service_url": "gw.example.com"}, "duo_agent_platform_service_url", "is not host:port"),
])
def test_bad_input_names_field_value_and_fix(given, field, words):
    with pytest.raises(InputError) as info:
        ai_settings.desired_settings(**given)
    bad = [value for key, value in given.items() if key == field][0]
    assert info.value.msg.startswith("{0}={1!r}: ".format(field, bad)) and "Fix: " in info.value.msg
    assert words in info.value.msg and info.value.details["field"] == field


def test_nothing_to_manage():
    with pytest.raises(DuoError) as info:
        ai_settings.desired_settings()
    assert info.value.msg == "Nothing to manage. Fix: give at least ai_gateway_url."


@pytest.mark.parametrize("version, location", [
    ("18.11.3-ee", "ai_setting"), ("19.1.9-ee", "ai_setting"), ("19.2.0-ee", "application_setting"),
    ("19.5.1-ce", "application_setting"), ("20.0.0", "application_setting")])
def test_location_for(version, location):
    assert ai_settings.location_for(parse_gitlab_version(version)) == location


# -- through gitlab-rails runner ------------------------------------------------------------------------------

@needs_ruby
def test_runner_check_mode_apply_and_idempotence(tmp_path):
    gitlab = Standin(tmp_path, "18.6.0-ee")  # the first release with every setting this test manages
    params = module_params("gitlab_ai_settings", rails_command=[STANDIN_RAILS], version_file=gitlab.version_file, **ALL)
    checked = ai_settings.apply(params, True, gitlab)
    assert checked["changed"] and sorted(checked["changes"]) == sorted(NORMALISED)
    # The timeout column comes with its default of 60 s (db/migrate of 18.6); the rest start empty.
    assert checked["diff"] == {"before": dict(dict.fromkeys(NORMALISED), ai_gateway_timeout_seconds=60),
                               "after": NORMALISED}
    assert gitlab.state["ai_settings"] == {}, "check mode wrote to the database"

    applied = ai_settings.apply(params, False, gitlab)
    assert applied["changed"] and applied["after"] == NORMALISED and applied["location"] == "Ai::Setting.instance"
    assert (applied["method"], applied["rails_runner_calls"]) == ("rails_runner", 1)
    assert gitlab.state["ai_settings"] == NORMALISED

    again = ai_settings.apply(params, False, gitlab)
    assert not again["changed"] and again["changes"] == [] and again["before"] == again["after"] == NORMALISED
    assert len(gitlab.calls) == 3 and all(argv[:2] == [STANDIN_RAILS, "runner"] for argv, _data in gitlab.calls)


@needs_ruby
def test_runner_writes_application_settings_from_19_2(tmp_path):
    gitlab = Standin(tmp_path, "19.2.0-ee")
    params = module_params("gitlab_ai_settings", rails_command=[STANDIN_RAILS], version_file=gitlab.version_file,
                           ai_gateway_url="https://aigw.example.com")
    result = ai_settings.apply(params, False, gitlab)
    assert result["location"] == "ApplicationSetting.current_without_cache"
    assert gitlab.state == {"ai_settings": {}, "application_settings": {"ai_gateway_url": "https://aigw.example.com"}}


@needs_ruby
def test_runner_reports_gitlab_refusing_a_value(tmp_path):
    gitlab = Standin(tmp_path, "18.2.1-ee")
    params = module_params("gitlab_ai_settings", rails_command=[STANDIN_RAILS], version_file=gitlab.version_file,
                           ai_gateway_url="http://localhost:5052", allow_local_urls=True)
    with pytest.raises(DuoError) as info:
        ai_settings.apply(params, False, gitlab)
    assert "GitLab refused the change: ActiveRecord::RecordInvalid" in info.value.msg and "localhost" in info.value.msg
    assert gitlab.state["ai_settings"] == {}


def test_runner_value_that_did_not_stick_is_an_error():
    answer = {"ok": True, "before": {"ai_gateway_url": None}, "after": {"ai_gateway_url": None},
              "changed": ["ai_gateway_url"], "location": "Ai::Setting.instance"}
    run = Runner((0, "Booting\n" + RESULT_MARKER + json.dumps(answer) + "\n", ""))
    with pytest.raises(DuoError) as info:
        ai_settings.apply_with_runner(run, None, parse_gitlab_version("18.2.1"),
                                      {"ai_gateway_url": "https://gw.example.com"}, False)
    assert "still reports different values for ai_gateway_url: {'ai_gateway_url': None}" in info.value.msg
    assert run.calls[0][0][:2] == ["gitlab-rails", "runner"] and run.calls[0][1] is None


def test_unknown_version_names_gitlab_version_and_the_api_way(tmp_path):
    params = module_params("gitlab_ai_settings", version_file=str(tmp_path / "missing"), ai_gateway_url="https://gw")
    run = Runner()
    with pytest.raises(DuoError) as info:
        ai_settings.apply(params, False, run)
    assert "gitlab_version is not given" in info.value.msg and "where this GitLab keeps its AI settings" in info.value.msg
    assert "or use api_token" in info.value.msg and run.calls == []


def test_given_version_skips_the_version_file():
    run = Runner(lambda argv: (0, RESULT_MARKER + json.dumps({
        "ok": True, "before": {"ai_gateway_url": "https://gw"}, "after": {"ai_gateway_url": "https://gw"},
        "changed": [], "location": "ApplicationSetting.current_without_cache"}), ""))
    params = module_params("gitlab_ai_settings", version_file="/nonexistent", gitlab_version="19.3.0-ee",
                           ai_gateway_url="https://gw")
    result = ai_settings.apply(params, False, run)
    assert not result["changed"] and result["location"] == "ApplicationSetting.current_without_cache"
    assert "ApplicationSetting.current_without_cache" in run.calls[0][0][-1]


# -- through the API ----------------------------------------------------------------------------------------

class FakeGitLab(LoopbackHTTP):
    """GitLab's duoSettings GraphQL query and mutation and the application settings REST resource, on one row."""

    def __init__(self, refuse=None):
        self.row = {"aiGatewayUrl": None, "aiGatewayTimeoutSeconds": 60, "duoAgentPlatformServiceUrl": None}
        self.logs = False
        self.refuse = refuse
        super().__init__({("POST", "/api/graphql"): self.graphql,
                          ("GET", "/api/v4/application/settings"): self.settings,
                          ("PUT", "/api/v4/application/settings"): self.settings,
                          # The API path reads the version first, to select only the fields it has.
                          ("GET", "/api/v4/version"): self.version})

    def version(self, request):
        if request["headers"].get("Authorization") != "Bearer " + TOKEN:
            return Answer(401, {"message": "401 Unauthorized"})
        return Answer(200, {"version": "18.9.0-ee", "revision": "abc"})

    def graphql(self, request):
        if request["headers"].get("Authorization") != "Bearer " + TOKEN:
            return Answer(401, {"message": "401 Unauthorized"})
        body = json.loads(request["body"])
        if "duoSettingsUpdate" in body["query"]:
            if self.refuse:
                return Answer(200, {"data": {"duoSettingsUpdate": {"duoSettings": None, "errors": [self.refuse]}}})
            self.row.update(body["variables"]["input"])
            return Answer(200, {"data": {"duoSettingsUpdate": {"duoSettings": dict(self.row), "errors": []}}})
        return Answer(200, {"data": {"duoSettings": dict(self.row)}})

    def settings(self, request):
        if request["method"] == "PUT":
            self.logs = request["body"] == "enabled_expanded_logging=true"
        return Answer(200, {"enabled_expanded_logging": self.logs, "signup_enabled": False})

    def writes(self):
        return [r for r in self.requests if r["method"] == "PUT" or "duoSettingsUpdate" in r["body"]]


def api_params(gitlab, **given):
    return module_params("gitlab_ai_settings", api_url=gitlab.url, api_token=TOKEN, **dict(ALL, **given))


def test_api_check_mode_apply_and_idempotence():
    with FakeGitLab() as gitlab:
        run = Runner()
        checked = ai_settings.apply(api_params(gitlab), True, run)
        assert checked["changed"] and gitlab.writes() == []
        assert checked["diff"]["before"] == {"ai_gateway_url": None, "ai_gateway_timeout_seconds": 60,
                                             "duo_agent_platform_service_url": None,
                                             "enabled_instance_verbose_ai_logs": False}
        assert checked["diff"]["after"] == NORMALISED

        applied = ai_settings.apply(api_params(gitlab), False, run)
        assert applied["changed"] and applied["after"] == NORMALISED
        assert (applied["method"], applied["location"], applied["rails_runner_calls"]) == ("api", "api", 0)
        assert gitlab.row == {"aiGatewayUrl": "https://aigw.example.com", "aiGatewayTimeoutSeconds": 300,
                              "duoAgentPlatformServiceUrl": "aigw.example.com:50052"} and gitlab.logs is True
        assert len(gitlab.writes()) == 2

        again = ai_settings.apply(api_params(gitlab), False, run)
        assert not again["changed"] and len(gitlab.writes()) == 2 and run.calls == []
    assert TOKEN not in json.dumps([checked, applied, again])


def test_api_only_writes_what_differs():
    with FakeGitLab() as gitlab:
        gitlab.logs = True
        result = ai_settings.apply(api_params(gitlab, enabled_instance_verbose_ai_logs=True), False, Runner())
        assert sorted(result["changes"]) == ["ai_gateway_timeout_seconds", "ai_gateway_url",
                                             "duo_agent_platform_service_url"]
        (write,) = gitlab.writes()
        assert json.loads(write["body"])["variables"]["input"] == {
            "aiGatewayUrl": "https://aigw.example.com", "aiGatewayTimeoutSeconds": 300,
            "duoAgentPlatformServiceUrl": "aigw.example.com:50052"}


def test_api_mutation_errors_are_reported():
    with FakeGitLab(refuse="Ai gateway url is blocked: Requests to the local network are not allowed") as gitlab:
        with pytest.raises(DuoError) as info:
            ai_settings.apply(api_params(gitlab), False, Runner())
    assert info.value.msg == ("GitLab refused the Duo settings: Ai gateway url is blocked: Requests to the local "
                              "network are not allowed")
    assert gitlab.logs is False


def test_api_wrong_token():
    with FakeGitLab() as gitlab:
        params = dict(api_params(gitlab), api_token="glpat-wrong")
        with pytest.raises(DuoError) as info:
            ai_settings.apply(params, False, Runner())
    assert "HTTP 401" in info.value.msg and "glpat-wrong" not in info.value.msg


# -- values a GitLab upgrade cleared, set again from what an earlier run remembered ------------------------------

REMEMBERED = {"gitlab_version": "18.10.0", "source": "/snapshots/gitlab.json",
              "settings": {"ai_gateway_url": "https://aigw.example.com", "ai_gateway_timeout_seconds": 300,
                           "duo_agent_platform_service_url": "aigw.example.com:50052"}}
V = parse_gitlab_version


def test_remembered_values_come_back_only_after_a_version_change_and_never_over_a_declared_one():
    assert ai_settings.remembered_for(V("19.2.0"), {}, REMEMBERED) == REMEMBERED["settings"]
    # At the version they were recorded at, an unset value was cleared on purpose.
    assert ai_settings.remembered_for(V("18.10.0-ee"), {}, REMEMBERED) == {}
    # What this run declares wins; a setting the version lacks (the timeout, before 18.6) is left out.
    assert ai_settings.remembered_for(V("19.2.0"), {"ai_gateway_url": "https://new"}, REMEMBERED) == {
        "ai_gateway_timeout_seconds": 300, "duo_agent_platform_service_url": "aigw.example.com:50052"}
    assert ai_settings.remembered_for(V("18.5.0"), {}, REMEMBERED) == {
        "ai_gateway_url": "https://aigw.example.com", "duo_agent_platform_service_url": "aigw.example.com:50052"}
    # Unset then (empty, or the timeout at GitLab's default) is nothing to remember.
    unset = dict(REMEMBERED, settings={"ai_gateway_url": "", "ai_gateway_timeout_seconds": 60,
                                       "duo_agent_platform_service_url": None})
    assert ai_settings.remembered_for(V("19.2.0"), {}, unset) == {}
    assert ai_settings.remembered_for(V("19.2.0"), {}, None) == {}


def test_a_broken_remembered_value_names_the_snapshot():
    with pytest.raises(InputError) as info:
        ai_settings.remembered_for(V("19.2.0"), {}, dict(REMEMBERED, settings={"ai_gateway_timeout_seconds": "x"}))
    assert "remembered.settings.ai_gateway_timeout_seconds='x'" in info.value.msg
    assert "/snapshots/gitlab.json" in info.value.msg
    with pytest.raises(InputError):
        ai_settings.remembered_for(V("19.2.0"), {}, dict(REMEMBERED, gitlab_version="eighteen"))


@needs_ruby
def test_runner_sets_again_what_19_2_cleared_and_nothing_that_is_set(tmp_path):
    """GitLab 18.10 held all three settings; the stand-in at 19.2 reads the application settings, which 19.2's
    migration added with their defaults and filled with nothing: both URLs unset, the timeout back at 60."""
    gitlab = Standin(tmp_path, "19.2.0-ee", state={
        "ai_settings": dict(REMEMBERED["settings"]),
        "application_settings": {"duo_agent_platform_service_url": "set-after.example.com:50052"}})
    params = module_params("gitlab_ai_settings", rails_command=[STANDIN_RAILS], version_file=gitlab.version_file,
                           remembered=REMEMBERED)
    checked = ai_settings.apply(params, True, gitlab)
    assert checked["changed"] and "ai_gateway_url" not in gitlab.state["application_settings"]
    applied = ai_settings.apply(params, False, gitlab)
    assert sorted(applied["changes"]) == ["ai_gateway_timeout_seconds", "ai_gateway_url"]
    assert applied["restored"] == checked["restored"] == [
        {"setting": "ai_gateway_timeout_seconds", "value": 300, "from": "/snapshots/gitlab.json",
         "recorded_at_version": "18.10.0"},
        {"setting": "ai_gateway_url", "value": "https://aigw.example.com", "from": "/snapshots/gitlab.json",
         "recorded_at_version": "18.10.0"}]
    assert applied["diff"] == {"before": {"ai_gateway_url": None, "ai_gateway_timeout_seconds": 60},
                               "after": {"ai_gateway_url": "https://aigw.example.com",
                                         "ai_gateway_timeout_seconds": 300}}
    # Set after the upgrade: kept.
    assert gitlab.state["application_settings"] == {"ai_gateway_url": "https://aigw.example.com",
                                                    "ai_gateway_timeout_seconds": 300,
                                                    "duo_agent_platform_service_url": "set-after.example.com:50052"}
    assert applied["settings"] == gitlab.state["application_settings"]
    again = ai_settings.apply(params, False, gitlab)
    assert not again["changed"] and again["restored"] == [] and len(gitlab.calls) == 3


@needs_ruby
def test_runner_reports_every_remembered_setting_even_unmanaged_ones(tmp_path):
    gitlab = Standin(tmp_path, "18.10.0-ee", state={"ai_settings": {"ai_gateway_timeout_seconds": 240}})
    params = module_params("gitlab_ai_settings", rails_command=[STANDIN_RAILS], version_file=gitlab.version_file,
                           ai_gateway_url="https://aigw.example.com")
    result = ai_settings.apply(params, False, gitlab)
    assert result["changes"] == ["ai_gateway_url"] and result["restored"] == []
    assert result["settings"] == {"ai_gateway_url": "https://aigw.example.com", "ai_gateway_timeout_seconds": 240,
                                  "duo_agent_platform_service_url": None}


def test_api_sets_again_what_was_cleared():
    with FakeGitLab() as gitlab:
        gitlab.row["duoAgentPlatformServiceUrl"] = "set-after.example.com:50052"
        params = module_params("gitlab_ai_settings", api_url=gitlab.url, api_token=TOKEN, remembered=REMEMBERED)
        result = ai_settings.apply(params, False, Runner())
        assert [item["setting"] for item in result["restored"]] == ["ai_gateway_timeout_seconds", "ai_gateway_url"]
        assert gitlab.row == {"aiGatewayUrl": "https://aigw.example.com", "aiGatewayTimeoutSeconds": 300,
                              "duoAgentPlatformServiceUrl": "set-after.example.com:50052"}
        assert result["settings"] == {"ai_gateway_url": "https://aigw.example.com", "ai_gateway_timeout_seconds": 300,
                                      "duo_agent_platform_service_url": "set-after.example.com:50052"}
