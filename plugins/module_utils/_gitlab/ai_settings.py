# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GitLab's instance AI settings: where they live, what is valid, how to read and set them
(private to gitlab_duo.self_hosted).

Up to 19.1 they are columns of ``Ai::Setting.instance``; from 19.2 of the application settings
(19.5 drops them from ai_settings). Two ways to apply them: one ``gitlab-rails runner`` call, or
with an admin token the GraphQL ``duoSettingsUpdate`` mutation plus the REST setting for verbose logs.
"""

from __future__ import annotations

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab import rails as _rails
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.api import api_client
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import given_or_installed
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import host_port, http_url

FIELDS = ("ai_gateway_url", "ai_gateway_timeout_seconds", "duo_agent_platform_service_url",
          "enabled_instance_verbose_ai_logs")
APPLICATION_SETTINGS_SINCE = (19, 2)
LOCATIONS = {
    "ai_setting": "Ai::Setting.instance",
    "application_setting": "ApplicationSetting.current_without_cache",
}
GRAPHQL_FIELDS = {"ai_gateway_url": "aiGatewayUrl", "ai_gateway_timeout_seconds": "aiGatewayTimeoutSeconds",
                  "duo_agent_platform_service_url": "duoAgentPlatformServiceUrl"}
REST_VERBOSE_LOGS = "enabled_expanded_logging"


def desired_settings(ai_gateway_url=None, ai_gateway_timeout_seconds=None, duo_agent_platform_service_url=None,
                     enabled_instance_verbose_ai_logs=None, allow_local_urls=False):
    """Validated, normalised settings; only the ones given are managed."""
    desired = {}
    if ai_gateway_url is not None:
        desired["ai_gateway_url"] = http_url("ai_gateway_url", ai_gateway_url, allow_local=allow_local_urls,
                                             example="https://ai-gateway.example.com")
    if ai_gateway_timeout_seconds is not None:
        if not 60 <= int(ai_gateway_timeout_seconds) <= 600:
            raise InputError("ai_gateway_timeout_seconds", ai_gateway_timeout_seconds, "is outside 60-600",
                             "use a number of seconds from 60 to 600")
        desired["ai_gateway_timeout_seconds"] = int(ai_gateway_timeout_seconds)
    if duo_agent_platform_service_url is not None:
        desired["duo_agent_platform_service_url"] = host_port("duo_agent_platform_service_url",
                                                              duo_agent_platform_service_url)
    if enabled_instance_verbose_ai_logs is not None:
        desired["enabled_instance_verbose_ai_logs"] = bool(enabled_instance_verbose_ai_logs)
    if not desired:
        raise DuoError("Nothing to manage. Fix: give at least ai_gateway_url.")
    return desired


def location_for(version):
    """'ai_setting' or 'application_setting' for a GitLabVersion."""
    return "application_setting" if (version.major, version.minor) >= APPLICATION_SETTINGS_SINCE else "ai_setting"


# One runner call: read, compare, update unless checking, read back, report.
_RUNNER_BODY = """
desired = request['desired']
load = -> { %(record)s }
read = ->(record) { desired.keys.to_h { |key| [key, record.public_send(key)] } }
before = read.call(load.call)
changes = desired.reject { |key, value| before[key] == value }
after = before.merge(changes)
if changes.any? && !request['check_mode']
  load.call.update!(changes)
  after = read.call(load.call)
end
{ 'before' => before, 'after' => after, 'changed' => changes.keys, 'location' => '%(record)s' }
"""


def apply_with_runner(run_command, prefix, version, desired, check_mode):
    record = LOCATIONS[location_for(version)]
    result = _rails.run(run_command, prefix, _RUNNER_BODY % {"record": record},
                        {"desired": desired, "check_mode": bool(check_mode)})
    if not check_mode:
        unapplied = [key for key in desired if result["after"].get(key) != desired[key]]
        if unapplied:
            raise DuoError("GitLab accepted the update but still reports different values for {0}: {1}".format(
                ", ".join(unapplied), {key: result["after"].get(key) for key in unapplied}))
    return {"before": result["before"], "after": result["after"], "changed": result["changed"],
            "location": result["location"], "method": "rails_runner"}


_QUERY = "query { duoSettings { aiGatewayUrl aiGatewayTimeoutSeconds duoAgentPlatformServiceUrl } }"
_MUTATION = ("mutation duoSettingsUpdate($input: DuoSettingsUpdateInput!) { duoSettingsUpdate(input: $input) { "
             "duoSettings { aiGatewayUrl aiGatewayTimeoutSeconds duoAgentPlatformServiceUrl } errors } }")


def _read_api(api, desired):
    current = {}
    graphql_wanted = [key for key in desired if key in GRAPHQL_FIELDS]
    if graphql_wanted:
        duo = api.graphql(_QUERY).get("duoSettings") or {}
        current.update({key: duo.get(GRAPHQL_FIELDS[key]) for key in graphql_wanted})
    if "enabled_instance_verbose_ai_logs" in desired:
        current["enabled_instance_verbose_ai_logs"] = bool(api.get("/api/v4/application/settings").get(REST_VERBOSE_LOGS))
    return current


def apply_with_api(api, desired, check_mode):
    before = _read_api(api, desired)
    changes = {key: value for key, value in desired.items() if before.get(key) != value}
    after = dict(before, **changes)
    if changes and not check_mode:
        graphql_changes = {GRAPHQL_FIELDS[key]: value for key, value in changes.items() if key in GRAPHQL_FIELDS}
        if graphql_changes:
            answer = api.graphql(_MUTATION, {"input": graphql_changes}).get("duoSettingsUpdate") or {}
            if answer.get("errors"):
                raise DuoError("GitLab refused the Duo settings: {0}".format("; ".join(answer["errors"])))
        if "enabled_instance_verbose_ai_logs" in changes:
            api.put("/api/v4/application/settings",
                    {REST_VERBOSE_LOGS: "true" if changes["enabled_instance_verbose_ai_logs"] else "false"})
        after = _read_api(api, desired)
    return {"before": before, "after": after, "changed": sorted(changes), "location": "api", "method": "api"}


def apply(params, check_mode, run_command):
    """The ai_settings module's answer: the managed settings read, compared and written in one call, through the
    API when a token is given, else through ONE gitlab-rails runner call."""
    desired = desired_settings(params["ai_gateway_url"], params["ai_gateway_timeout_seconds"],
                               params["duo_agent_platform_service_url"], params["enabled_instance_verbose_ai_logs"],
                               params["allow_local_urls"])
    api = api_client(params)
    if api is not None:
        result, calls = apply_with_api(api, desired, check_mode), 0
    else:
        version = given_or_installed(params["gitlab_version"], params["version_file"],
                                     why=", so it is unknown where this GitLab keeps its AI settings",
                                     fix=", or use api_token", rails_command=params["rails_command"],
                                     run_command=run_command)
        result, calls = apply_with_runner(run_command, params["rails_command"], version, desired, check_mode), 1
    return dict(changed=bool(result["changed"]), before=result["before"], after=result["after"],
                changes=result["changed"], method=result["method"], location=result["location"],
                rails_runner_calls=calls, diff={"before": result["before"], "after": result["after"]})
