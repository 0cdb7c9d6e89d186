# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GitLab-side diagnostics (private to gitlab_duo.self_hosted): ONE ``gitlab-rails runner`` call gathers every
Rails-side fact; Python turns the facts, GitLab's own verify task and llm.log into catalogue findings."""

from __future__ import annotations

import json
import os

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab import rails as _rails
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.ai_settings import LOCATIONS, location_for
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.rake_verify import parse, task_name
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import given_or_installed
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import redact
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import log_rules as _log_rules
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import (
    finding, passed, worst)

LLM_LOG = "/var/log/gitlab/gitlab-rails/llm.log"
TAIL_BYTES = 2 * 1024 * 1024

# Every fact in one Rails boot; each probe rescued on its own so one missing class does not hide the others.
_RUNNER_BODY = """
probe = lambda do |&block|
  block.call
rescue StandardError, NotImplementedError => e
  { 'error' => "#{e.class}: #{e.message}"[0, 300] }
end
settings = %(record)s
facts = {}
facts['settings'] = probe.call do
  %%w[ai_gateway_url duo_agent_platform_service_url enabled_instance_verbose_ai_logs].to_h do |name|
    [name, settings.respond_to?(name) ? settings.public_send(name) : nil]
  end
end
facts['legacy_env_url'] = ENV['AI_GATEWAY_URL']
facts['self_sign_tokens'] = ENV['CLOUD_CONNECTOR_SELF_SIGN_TOKENS']
user = request['user'] && User.find_by_username(request['user'])
facts['user'] = if request['user'].nil?
                  nil
                elsif user.nil?
                  { 'found' => false }
                else
                  probe.call do
                    { 'found' => true,
                      'can_access_code_suggestions' => user.can?(:access_code_suggestions),
                      'ability_allowed' => Ability.allowed?(user, :access_code_suggestions),
                      'allowed_to_use' => user.allowed_to_use?(:code_suggestions, service_name: :self_hosted_models) }
                  end
                end
facts['features_self_hosted'] = probe.call do
  { 'value' => ::Ai::FeatureSetting.exists?(feature: [:code_generations, :code_completions], provider: :self_hosted) }
end
url = facts['settings'].is_a?(Hash) ? facts['settings']['ai_gateway_url'] : nil
facts['healthz'] = if url.to_s.empty?
                     nil
                   else
                     probe.call do
                       { 'code' => HTTParty.get("#{url.chomp('/')}/monitoring/healthz",
                                                headers: { 'accept' => 'application/json' }).code }
                     end
                   end
round_trip = request['round_trip']
if round_trip && !url.to_s.empty?
  # The model's API key comes on standard input, never in the script (which is on the command line).
  model_api_key = round_trip['api_key_on_stdin'] ? $stdin.gets.to_s.chomp : nil
  facts['round_trip'] = probe.call do
    payload = { content: [{ role: :user, content: 'Hello' }], provider: :litellm, model: round_trip['model'],
                model_endpoint: round_trip['model_endpoint'], model_api_key: model_api_key }.compact
    client = Gitlab::Llm::AiGateway::Client.new(user || User.find_by_id(1), unit_primitive_name: :self_hosted_models)
    response = client.complete(url: "#{url.chomp('/')}/v1/chat/agent",
                               body: { prompt_components: [{ type: 'prompt',
                                                             metadata: { source: 'GitLab EE', version: '17.3.0' },
                                                             payload: payload }] })
    { 'code' => response.code, 'body' => response.body.to_s[0, 300] }
  end
end
facts
"""


def gather(run_command, prefix, version, user=None, round_trip=None):
    """``round_trip``: {model, model_endpoint, model_api_key} for GitLab -> gateway -> model through GitLab's own
    client; the key travels on the runner's standard input."""
    body = _RUNNER_BODY % {"record": LOCATIONS[location_for(version)]}
    trip, key = None, None
    if round_trip:
        trip = {"model": round_trip.get("model"), "model_endpoint": round_trip.get("model_endpoint")}
        key = round_trip.get("model_api_key") or None
        trip["api_key_on_stdin"] = key is not None
    return _rails.run(run_command, prefix, body, {"user": user, "round_trip": trip}, secret=key)


def fact_findings(facts, expected_url=None):
    found = []
    settings = facts.get("settings") or {}
    if "error" in settings:
        found.append(finding("gitlab.ai_gateway_url_unset", "could not read the settings: " + settings["error"]))
        settings = {}
    url = (settings.get("ai_gateway_url") or "").rstrip("/")
    if not url:
        found.append(finding("gitlab.ai_gateway_url_unset", "ai_gateway_url is empty"))
    elif expected_url and url != expected_url.rstrip("/"):
        found.append(finding("gitlab.ai_gateway_url_mismatch", "ai_gateway_url={0!r}, expected {1!r}".format(
            url, expected_url)))
    else:
        found.append(passed("gitlab.ai_gateway_url", url))
    if facts.get("legacy_env_url"):
        found.append(finding("gitlab.legacy_ai_gateway_url_env", "AI_GATEWAY_URL=" + facts["legacy_env_url"]))
    if facts.get("self_sign_tokens"):
        found.append(finding("gitlab.self_sign_tokens_on",
                             "CLOUD_CONNECTOR_SELF_SIGN_TOKENS=" + facts["self_sign_tokens"]))
    agent = settings.get("duo_agent_platform_service_url") or ""
    if agent.lower().startswith(("http://", "https://")):
        found.append(finding("gitlab.agent_platform_url_has_scheme", "duo_agent_platform_service_url=" + agent))
    if not settings.get("enabled_instance_verbose_ai_logs"):
        found.append(finding("gitlab.verbose_ai_logs_off", "enabled_instance_verbose_ai_logs is false"))
    user = facts.get("user")
    if user is not None:
        if not user.get("found") or "error" in user or not all(
                user.get(key) for key in ("can_access_code_suggestions", "ability_allowed", "allowed_to_use")):
            found.append(finding("gitlab.user_no_code_suggestions_access", ", ".join(
                "{0}={1}".format(key, value) for key, value in sorted(user.items()))))
        else:
            found.append(passed("gitlab.user_access", "the user can use Code Suggestions with self-hosted models"))
    features = facts.get("features_self_hosted") or {}
    if not features.get("value"):
        found.append(finding("gitlab.features_not_self_hosted", features.get("error") or
                             "no code_completions/code_generations feature setting with provider self_hosted"))
    else:
        found.append(passed("gitlab.features_self_hosted"))
    round_trip = facts.get("round_trip")
    if round_trip is not None:
        if round_trip.get("code") == 200 and '"response"' in (round_trip.get("body") or ""):
            found.append(passed("gitlab.model_round_trip", "the model answered through the gateway"))
        else:
            found.append(finding("gitlab.model_round_trip_failed", round_trip.get("error") or "HTTP {0}: {1}".format(
                round_trip.get("code"), round_trip.get("body"))))
    healthz = facts.get("healthz")
    if healthz is not None:
        if healthz.get("code") == 200:
            found.append(passed("gitlab.gateway_reachable", "HTTParty GET healthz from Rails: 200"))
        else:
            found.append(finding("gitlab.gateway_unreachable", "from Rails: {0}".format(
                healthz.get("error") or "HTTP {0}".format(healthz.get("code")))))
    return found


def rake_findings(parsed):
    failed = [check["text"] for check in parsed["checks"] if check["status"] == "failed"]
    if failed:
        return [finding("gitlab.verify_task_failed", "; ".join(failed)[:500])]
    counts = parsed["counts"]
    return [passed("gitlab.verify_task", "{0} passed, {1} warning(s)".format(counts["passed"], counts["warning"]))]


def tail_lines(path, max_lines, max_bytes=TAIL_BYTES):
    """The last ``max_lines`` lines of a file, reading at most ``max_bytes`` from its end."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - max_bytes))
        data = handle.read().decode("utf-8", "replace")
    lines = data.splitlines()
    if size > max_bytes:
        lines = lines[1:]  # the first line is cut
    return lines[-max_lines:]


def llm_log_findings(path, max_lines):
    if not os.path.exists(path):
        return [finding("gitlab.no_llm_log", "{0} does not exist".format(path))]
    hits = _log_rules.classify_llm_log(tail_lines(path, max_lines))
    found = _log_rules.findings_from(hits, os.path.basename(path))
    return found or [passed("gitlab.llm_log", "no known error pattern in the last {0} lines".format(max_lines))]


def diagnose(params, run_command):
    """The gitlab_diagnostics module's answer: every GitLab-side check in ONE gitlab-rails runner call, GitLab's
    verify task when asked, and llm.log; excerpts for a support bundle when asked."""
    version = given_or_installed(params["gitlab_version"], params["version_file"],
                                 rails_command=params["rails_command"], run_command=run_command)
    facts = gather(run_command, params["rails_command"], version, params["user"], params["round_trip"])
    findings = fact_findings(facts, params["expected_ai_gateway_url"])
    if params["restored_verbose_logs"]:
        findings.insert(0, finding("gitlab.verbose_ai_logs_restored", "a marker of an interrupted run was found"))
    calls = 1
    excerpts = {}
    if params["run_rake"]:
        _rc, stdout, _stderr = run_command(params["rake_command"] + [task_name(params["user"])])
        findings += rake_findings(parse(stdout))
        excerpts["verify_self_hosted_setup.txt"] = redact(stdout)
        calls += 1
    findings += llm_log_findings(params["llm_log"], params["llm_log_lines"])
    facts.pop("ok", None)
    result = dict(changed=False, findings=findings, worst=worst(findings), facts=facts, rails_runner_calls=calls)
    if params["collect_excerpts"]:
        excerpts["facts.json"] = json.dumps(facts, indent=2, sort_keys=True) + "\n"
        if os.path.exists(params["llm_log"]):
            excerpts["llm.log"] = "".join(redact(line) + "\n" for line in tail_lines(params["llm_log"], 200))
        result["excerpts"] = excerpts
    return result
