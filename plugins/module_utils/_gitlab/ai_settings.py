# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GitLab's instance AI settings: where they live, what is valid, how to read and set them
(private to gitlab_duo.self_hosted).

From 17.6 (the ai_settings table) up to 19.1 they are columns of ``Ai::Setting.instance``; from 19.2 of the
application settings (19.5 drops them from ai_settings). Each setting exists from a release on (SINCE, from the
migrations in GitLab's db/ and ee/app/models/ai/setting.rb), and GraphQL gains its field release by release
(ee/app/graphql/types/ai/duo_settings/duo_settings_type.rb, ee/app/graphql/mutations/ai/duo_settings/update.rb):
a version is only ever asked for what it has. Two ways to apply them: one ``gitlab-rails runner`` call, or with
an admin token the GraphQL ``duoSettingsUpdate`` mutation plus the REST setting for verbose logs.
"""

from __future__ import annotations

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab import rails as _rails
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.api import api_client
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import (
    format_version, from_api, given_or_installed, parse_gitlab_version)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import host_port, http_url

FIELDS = ("ai_gateway_url", "ai_gateway_timeout_seconds", "duo_agent_platform_service_url",
          "enabled_instance_verbose_ai_logs")
APPLICATION_SETTINGS_SINCE = (19, 2)
# Duo Self-Hosted's settings live in the ai_settings table, added in 17.6 (AddAiSettingsTable).
MINIMUM_VERSION = (17, 6)
# The release that added each setting's column.
SINCE = {"ai_gateway_url": (17, 6), "enabled_instance_verbose_ai_logs": (17, 9),
         "duo_agent_platform_service_url": (18, 4), "ai_gateway_timeout_seconds": (18, 6)}
# The release whose duoSettings type and DuoSettingsUpdateInput have each field (the type itself is 17.9's).
GRAPHQL_SINCE = {"ai_gateway_url": (17, 9), "duo_agent_platform_service_url": (18, 4),
                 "ai_gateway_timeout_seconds": (18, 6)}
LOCATIONS = {
    "ai_setting": "Ai::Setting.instance",
    "application_setting": "ApplicationSetting.current_without_cache",
}
# The settings a snapshot remembers between runs (settings_snapshot) and sets again where a GitLab upgrade left them
# unset: the gateway URL, the timeout and the Agent Platform URL. Verbose AI logs are a troubleshooting switch that
# the troubleshoot role sets for a run and back: never restored.
REMEMBERED = ("ai_gateway_url", "ai_gateway_timeout_seconds", "duo_agent_platform_service_url")
# Column defaults: a value at its default counts as unset. 19.2's AddAiInfrastructureColumnsToApplicationSettings
# adds the columns to application_settings with these defaults (the URLs NULL, the timeout 60) and copies nothing,
# and 19.3's RestoreAiInfrastructureSettingsFromAiSettings restores exactly the values still NULL or at 60.
COLUMN_DEFAULTS = {"ai_gateway_timeout_seconds": 60}
GRAPHQL_FIELDS = {"ai_gateway_url": "aiGatewayUrl", "ai_gateway_timeout_seconds": "aiGatewayTimeoutSeconds",
                  "duo_agent_platform_service_url": "duoAgentPlatformServiceUrl"}
REST_VERBOSE_LOGS = "enabled_expanded_logging"


def desired_settings(ai_gateway_url=None, ai_gateway_timeout_seconds=None, duo_agent_platform_service_url=None,
                     enabled_instance_verbose_ai_logs=None, allow_local_urls=False, require=True):
    """Validated, normalised settings; only the ones given are managed (``require``: at least one)."""
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
    if not desired and require:
        raise DuoError("Nothing to manage. Fix: give at least ai_gateway_url.")
    return desired


def is_unset(key, value):
    """No value, or the column's default (the way 19.3's restoring migration tells a lost value)."""
    return value is None or value == "" or (key in COLUMN_DEFAULTS and value == COLUMN_DEFAULTS[key])


def has_setting(version, key):
    return (version.major, version.minor) >= SINCE[key]


def remembered_for(version, desired, remembered):
    """The settings to set again where they are unset now: ``remembered`` is what an earlier run recorded
    (settings_snapshot: ``settings`` and the ``gitlab_version`` they were read at). Only when GitLab's version
    changed since (an upgrade, the kind of event that clears them: an unset value at the same version was cleared on
    purpose), only settings this version has, that the run does not declare (a declared value wins), and that were
    set then. The values go back as GitLab held them; GitLab validates them again."""
    if not remembered or not remembered.get("settings") or not remembered.get("gitlab_version"):
        return {}
    if not isinstance(remembered["settings"], dict):
        raise InputError("remembered.settings", remembered["settings"], "is not a mapping of setting names to values",
                         "pass the snapshot gitlab_settings_snapshot returned, as it is")
    then = parse_gitlab_version(remembered["gitlab_version"], "remembered.gitlab_version")
    if then[:3] == version[:3]:
        return {}
    settings = remembered["settings"]
    restore = {}
    for key in REMEMBERED:
        if key in desired or not has_setting(version, key) or is_unset(key, settings.get(key)):
            continue
        value = settings[key]
        if key == "ai_gateway_timeout_seconds":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise InputError("remembered.settings.ai_gateway_timeout_seconds", value, "is not a number",
                                 "fix or delete the snapshot {0}".format(remembered.get("source") or ""))
        restore[key] = value
    return restore


def restored_list(restore, changed, remembered):
    """What was (or would be) set again, and from where."""
    return [{"setting": key, "value": restore[key], "from": remembered.get("source") or "remembered",
             "recorded_at_version": remembered.get("gitlab_version")} for key in sorted(restore) if key in changed]


def _release(pair):
    return "{0}.{1}".format(*pair)


def require_self_hosted(version):
    """DuoError before 17.6: Duo Self-Hosted and its settings do not exist there."""
    if (version.major, version.minor) < MINIMUM_VERSION:
        raise DuoError("Duo Self-Hosted needs GitLab {0} or later; this instance runs {1}. Fix: upgrade GitLab to "
                       "{0} or later.".format(_release(MINIMUM_VERSION), format_version(version)),
                       gitlab_version=format_version(version))


def require_settings(version, desired):
    """DuoError naming the release that introduced each managed setting this version lacks."""
    require_self_hosted(version)
    missing = [key for key in desired if (version.major, version.minor) < SINCE[key]]
    if missing:
        raise DuoError("GitLab {0} has no {1}: {2}. Fix: upgrade GitLab, or leave {3} unset.".format(
            format_version(version), "setting" if len(missing) == 1 else "settings",
            ", ".join("{0} (added in GitLab {1})".format(key, _release(SINCE[key])) for key in missing),
            " and ".join(missing)), unsupported=missing, gitlab_version=format_version(version))


def location_for(version):
    """'ai_setting' or 'application_setting' for a GitLabVersion (DuoError before 17.6)."""
    require_self_hosted(version)
    return "application_setting" if (version.major, version.minor) >= APPLICATION_SETTINGS_SINCE else "ai_setting"


# One runner call: read, compare, set again the remembered values that are unset now, update unless checking, read
# back, report (with every remembered setting the version has, for the next run's snapshot).
_RUNNER_BODY = """
desired = request['desired']
restore = request['restore']
defaults = request['defaults']
load = -> { %(record)s }
missing = desired.keys.reject { |key| load.call.respond_to?(key) }
raise NoMethodError, "GitLab #{Gitlab::VERSION} has no setting #{missing.join(', ')} on %(record)s" if missing.any?
keys = (desired.keys + restore.keys + request['remembered']).uniq.select { |key| load.call.respond_to?(key) }
read = ->(record) { keys.to_h { |key| [key, record.public_send(key)] } }
unset = ->(key, value) { value.nil? || value == '' || (defaults.key?(key) && value == defaults[key]) }
current = read.call(load.call)
restored = restore.select { |key, _| current.key?(key) && unset.call(key, current[key]) }
changes = desired.reject { |key, value| current[key] == value }.merge(restored)
managed = (desired.keys + restored.keys).uniq
if changes.any? && !request['check_mode']
  load.call.update!(changes)
  now = read.call(load.call)
else
  now = current.merge(changes)
end
{ 'before' => current.slice(*managed), 'after' => now.slice(*managed), 'changed' => changes.keys,
  'settings' => now.slice(*request['remembered']), 'location' => '%(record)s' }
"""


def _remembered_keys(version):
    return [key for key in REMEMBERED if has_setting(version, key)]


def apply_with_runner(run_command, prefix, version, desired, check_mode, restore=None):
    """``restore``: remembered values to set again where they are unset now (remembered_for)."""
    require_settings(version, desired)
    restore = dict(restore or {})
    record = LOCATIONS[location_for(version)]
    result = _rails.run(run_command, prefix, _RUNNER_BODY % {"record": record},
                        {"desired": desired, "check_mode": bool(check_mode), "restore": restore,
                         "defaults": COLUMN_DEFAULTS, "remembered": _remembered_keys(version)})
    if not check_mode:
        wanted = dict(desired, **{key: restore[key] for key in result["changed"] if key in restore})
        unapplied = [key for key in wanted if result["after"].get(key) != wanted[key]]
        if unapplied:
            raise DuoError("GitLab accepted the update but still reports different values for {0}: {1}".format(
                ", ".join(unapplied), {key: result["after"].get(key) for key in unapplied}))
    return {"before": result["before"], "after": result["after"], "changed": result["changed"],
            "settings": result.get("settings", {}), "location": result["location"], "method": "rails_runner"}


PERMISSION_REFUSED = "You don't have permission to update the setting"
# ee/app/policies/ee/global_policy.rb: who passes manage_self_hosted_models_settings.
WHO_MAY = ("GitLab lets a user change it only when all of these hold (manage_self_hosted_models_settings): "
           "the token's user is an administrator (in Admin Mode when Admin Mode is on); the license has the "
           "self-hosted models feature; an active GitLab Duo Enterprise (or Duo Agent Platform self-hosted) add-on; "
           "the instance is not connected to Amazon Q (and is not GitLab.com)")


def graphql_fields(version, keys):
    """The duoSettings fields for ``keys`` that ``version`` has; DuoError for the ones it lacks."""
    lacking = [key for key in keys if (version.major, version.minor) < GRAPHQL_SINCE[key]]
    if lacking:
        raise DuoError("GitLab {0}'s GraphQL API has no {1} ({2}). Fix: leave api_token unset to set it through "
                       "gitlab-rails runner, or upgrade GitLab.".format(
                           format_version(version), ", ".join(GRAPHQL_FIELDS[key] for key in lacking),
                           ", ".join("added in {0}".format(_release(GRAPHQL_SINCE[key])) for key in lacking)),
                       unsupported=lacking)
    return [GRAPHQL_FIELDS[key] for key in keys]


def _query(fields):
    return "query { duoSettings { %s } }" % " ".join(fields)


def _mutation(fields):
    return ("mutation duoSettingsUpdate($input: DuoSettingsUpdateInput!) { duoSettingsUpdate(input: $input) { "
            "duoSettings { %s } errors } }" % " ".join(fields))


def _read_api(api, desired, fields):
    """The settings ``desired`` names (and any other duoSettings field in ``fields``) as GitLab holds them."""
    current = {}
    if fields:
        duo = api.graphql(_query(fields)).get("duoSettings") or {}
        by_field = {field: key for key, field in GRAPHQL_FIELDS.items()}
        current.update({by_field[field]: duo.get(field) for field in fields})
    if "enabled_instance_verbose_ai_logs" in desired:
        settings = api.get("/api/v4/application/settings")
        if REST_VERBOSE_LOGS not in settings:
            # ee/lib/ee/api/entities/application_setting.rb exposes it only when License.ai_features_available?.
            raise DuoError("GitLab's GET /api/v4/application/settings has no {0} field, so the verbose AI logs "
                           "setting cannot be read and is left alone. GitLab returns it only when the license "
                           "has AI features (License.ai_features_available?). Fix: check the license (Admin > "
                           "Subscription), or leave api_token unset to use gitlab-rails runner.".format(
                               REST_VERBOSE_LOGS), missing_field=REST_VERBOSE_LOGS)
        current["enabled_instance_verbose_ai_logs"] = bool(settings[REST_VERBOSE_LOGS])
    return current


def _update_graphql(api, changes, fields):
    try:
        answer = api.graphql(_mutation(fields), {"input": changes}).get("duoSettingsUpdate") or {}
    except DuoError as exc:
        if PERMISSION_REFUSED in exc.msg:
            raise DuoError("GitLab refused to change the Duo settings: {0}. {1}. Fix: use such a user's token, "
                           "or check the license and add-on (Admin > Subscription, Admin > GitLab Duo).".format(
                               exc.msg, WHO_MAY), permission_refused=True)
        raise
    if answer.get("errors"):
        raise DuoError("GitLab refused the Duo settings: {0}".format("; ".join(answer["errors"])))


def apply_with_api(api, desired, check_mode, version=None, remembered=None):
    """``version``: the instance's GitLabVersion (read from the API when not given); ``remembered``: what an
    earlier run recorded (remembered_for decides what is set again)."""
    if version is None:
        version = parse_gitlab_version(from_api(api)[0], "the GitLab API's version")
    require_settings(version, desired)
    restore = remembered_for(version, desired, remembered)
    # Every remembered setting the API version has is read too (for the snapshot); the mutation sends only changes.
    readable = [key for key in _remembered_keys(version) if (version.major, version.minor) >= GRAPHQL_SINCE[key]]
    fields = graphql_fields(version, [key for key in desired if key in GRAPHQL_FIELDS])
    fields += [GRAPHQL_FIELDS[key] for key in readable if GRAPHQL_FIELDS[key] not in fields]
    current = _read_api(api, desired, fields)
    restored = {key: value for key, value in restore.items() if key in current and is_unset(key, current[key])}
    changes = dict({key: value for key, value in desired.items() if current.get(key) != value}, **restored)
    managed = list(desired) + [key for key in restored if key not in desired]
    now = dict(current, **changes)
    if changes and not check_mode:
        graphql_changes = {GRAPHQL_FIELDS[key]: value for key, value in changes.items() if key in GRAPHQL_FIELDS}
        if graphql_changes:
            _update_graphql(api, graphql_changes, fields)
        if "enabled_instance_verbose_ai_logs" in changes:
            api.put("/api/v4/application/settings",
                    {REST_VERBOSE_LOGS: "true" if changes["enabled_instance_verbose_ai_logs"] else "false"})
        now = _read_api(api, desired, fields)
    return {"before": {key: current.get(key) for key in managed}, "after": {key: now.get(key) for key in managed},
            "changed": sorted(changes), "settings": {key: now.get(key) for key in readable},
            "location": "api", "method": "api", "restore": restore}


def apply(params, check_mode, run_command):
    """The ai_settings module's answer: the managed settings read, compared and written in one call, through the
    API when a token is given, else through ONE gitlab-rails runner call."""
    desired = desired_settings(params["ai_gateway_url"], params["ai_gateway_timeout_seconds"],
                               params["duo_agent_platform_service_url"], params["enabled_instance_verbose_ai_logs"],
                               params["allow_local_urls"], require=not params.get("remembered"))
    remembered = params.get("remembered") or {}
    api = api_client(params)
    if api is not None:
        version = parse_gitlab_version(params["gitlab_version"]) if params.get("gitlab_version") else None
        result, calls = apply_with_api(api, desired, check_mode, version, remembered), 0
        restore = result.pop("restore")
    else:
        version = given_or_installed(params["gitlab_version"], params["version_file"],
                                     why=", so it is unknown where this GitLab keeps its AI settings",
                                     fix=", or use api_token", rails_command=params["rails_command"],
                                     run_command=run_command)
        restore = remembered_for(version, desired, remembered)
        result, calls = apply_with_runner(run_command, params["rails_command"], version, desired, check_mode,
                                          restore), 1
    return dict(changed=bool(result["changed"]), before=result["before"], after=result["after"],
                changes=result["changed"], method=result["method"], location=result["location"],
                restored=restored_list(restore, result["changed"], remembered), settings=result["settings"],
                rails_runner_calls=calls, diff={"before": result["before"], "after": result["after"]})
