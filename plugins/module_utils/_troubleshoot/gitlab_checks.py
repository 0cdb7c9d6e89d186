# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GitLab-side diagnostics (private to gitlab_duo.self_hosted): ONE ``gitlab-rails runner`` call gathers every
Rails-side fact; Python turns the facts, GitLab's own verify task and llm.log into catalogue findings."""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab import rails as _rails
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.ai_settings import LOCATIONS, location_for
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.rake_verify import parse, task_name
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.round_trip import ROUND_TRIP_RUBY, answered
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import given_or_installed
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import redact, scrub
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import log_rules as _log_rules
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import (
    finding, passed, worst)

LLM_LOG = "/var/log/gitlab/gitlab-rails/llm.log"
TAIL_BYTES = 2 * 1024 * 1024

# Every fact in one Rails boot; each probe rescued on its own so one missing class does not hide the others. A probe
# that raises reports {'error'} (the check could not run); a network failure of an HTTP/TCP probe is its verdict
# ({'network_error'}), told apart by Gitlab::HTTP::HTTP_ERRORS (gems/gitlab-http/lib/gitlab/http_v2/exceptions.rb).
# Version-dependent signatures are read from the method itself: User#allowed_to_use? takes unit_primitive_name:
# in current releases and service_name: in older ones (ee/app/models/concerns/ai/user_authorizable.rb), and so does
# Gitlab::Llm::AiGateway::Client.new (ee/lib/gitlab/llm/ai_gateway/client.rb; round_trip.ROUND_TRIP_RUBY, shared with
# the upgrade's model round trip).
_RUNNER_BODY = """
require 'socket'
require 'openssl'
network_errors = [SystemCallError, SocketError, IOError, Timeout::Error, OpenSSL::SSL::SSLError]
network_errors += Gitlab::HTTP::HTTP_ERRORS if defined?(Gitlab::HTTP::HTTP_ERRORS)
probe = lambda do |&block|
  block.call
rescue *network_errors => e
  { 'network_error' => "#{e.class}: #{e.message}"[0, 300] }
rescue StandardError, NotImplementedError, ScriptError => e
  { 'error' => "#{e.class}: #{e.message}"[0, 300] }
end
keyword_for = lambda do |method, *names|
  accepted = method.parameters.map(&:last)
  names.find { |name| accepted.include?(name) }
end
http_get = lambda do |url|
  if defined?(Gitlab::HTTP)
    Gitlab::HTTP.get(url, headers: { 'accept' => 'application/json' }, allow_local_requests: true, timeout: 10)
  else
    HTTParty.get(url, headers: { 'accept' => 'application/json' }, timeout: 10)
  end
end
facts = {}
settings = nil
facts['settings'] = probe.call do
  settings = %(record)s
  %%w[ai_gateway_url duo_agent_platform_service_url enabled_instance_verbose_ai_logs].to_h do |name|
    [name, settings.respond_to?(name) ? settings.public_send(name) : nil]
  end.merge('present' => %%w[ai_gateway_url duo_agent_platform_service_url enabled_instance_verbose_ai_logs
                           ai_gateway_timeout_seconds].select { |name| settings.respond_to?(name) })
end
facts['legacy_env_url'] = ENV['AI_GATEWAY_URL']
facts['self_sign_tokens'] = ENV['CLOUD_CONNECTOR_SELF_SIGN_TOKENS']
proxy = ENV['https_proxy'] || ENV['HTTPS_PROXY'] || ENV['http_proxy'] || ENV['HTTP_PROXY']
facts['proxy'] = proxy.to_s.empty? ? nil : { 'proxy' => proxy.sub(%%r{//[^/@]*@}, '//'), 'no_proxy' => ENV['no_proxy'] || ENV['NO_PROXY'] }
user = request['user'] && User.find_by_username(request['user'])
facts['user'] = if request['user'].nil?
                  nil
                elsif user.nil?
                  { 'found' => false }
                else
                  access = { 'found' => true }
                  access['can_access_code_suggestions'] = probe.call { user.can?(:access_code_suggestions) }
                  access['ability_allowed'] = probe.call { Ability.allowed?(user, :access_code_suggestions) }
                  access['allowed_to_use'] = probe.call do
                    keyword = keyword_for.call(user.method(:allowed_to_use?), :unit_primitive_name, :service_name)
                    options = keyword ? { keyword => :self_hosted_models } : {}
                    user.allowed_to_use?(:code_suggestions, **options)
                  end
                  access
                end
facts['features_self_hosted'] = probe.call do
  { 'value' => ::Ai::FeatureSetting.exists?(feature: [:code_generations, :code_completions], provider: :self_hosted) }
end
facts['unit_primitive'] = probe.call do
  { 'name' => 'self_hosted_models',
    'found' => !::Gitlab::CloudConnector::DataModel::UnitPrimitive.find_by_name(:self_hosted_models).nil? }
end
url = facts['settings'].is_a?(Hash) ? facts['settings']['ai_gateway_url'] : nil
unless url.to_s.empty?
  facts['healthz'] = probe.call { { 'code' => http_get.call("#{url.chomp('/')}/monitoring/healthz").code } }
  uri = URI.parse(url)
  facts['tcp'] = probe.call do
    Socket.tcp(uri.host, uri.port, connect_timeout: 10).close
    { 'target' => "#{uri.host}:#{uri.port}" }
  end
  if uri.scheme == 'https' && !facts['tcp'].key?('network_error')
    facts['tls'] = probe.call do
      context = OpenSSL::SSL::SSLContext.new
      context.set_params(verify_mode: OpenSSL::SSL::VERIFY_PEER)
      socket = OpenSSL::SSL::SSLSocket.new(Socket.tcp(uri.host, uri.port, connect_timeout: 10), context)
      socket.hostname = uri.host
      socket.connect
      socket.post_connection_check(uri.host)
      version = socket.ssl_version
      socket.close
      { 'target' => "#{uri.host}:#{uri.port}", 'version' => version }
    end
  end
end
service = facts['settings'].is_a?(Hash) ? facts['settings']['duo_agent_platform_service_url'].to_s : ''
unless service.empty? || service.include?('://')
  facts['agent_platform'] = probe.call do
    host, port = service.split(':', 2)
    Socket.tcp(host, Integer(port || 50052), connect_timeout: 10).close
    { 'target' => service }
  end
end
# GitLab's own Agent Platform WebSocket check where the release has it (ee/lib/gitlab/duo/administration/
# agent_platform_websocket_check.rb, called by the newer verify task): an upgrade request to the instance's own
# external URL + api/v4/ai/duo_workflows/ws, answered 101 when every proxy in front of GitLab passes it on.
if !service.empty? && defined?(::Gitlab::Duo::Administration::AgentPlatformWebsocketCheck)
  facts['websocket'] = probe.call do
    checked = ::Gitlab::Duo::Administration::AgentPlatformWebsocketCheck.new(user || User.find_by_username('root'))
    result = checked.execute
    { 'status' => result.status.to_s, 'http_status' => result.http_status, 'url' => result.url,
      'failure' => result.error && "#{result.error.class}: #{result.error.message}"[0, 300],
      'tls_verified' => result.tls_verified }
  end
end
%(round_trip_ruby)s
round_trip = request['round_trip']
if round_trip && !url.to_s.empty?
  # The model's API key comes on standard input, never in the script (which is on the command line).
  model_api_key = round_trip['api_key_on_stdin'] ? $stdin.gets.to_s.chomp : nil
  facts['round_trip'] = probe.call do
    payload = { content: [{ role: :user, content: 'Hello' }], provider: :litellm, model: round_trip['model'],
                model_endpoint: round_trip['model_endpoint'], model_api_key: model_api_key }.compact
    round_trip_call.call(url, user || User.find_by_id(1), payload)
  end
end
facts
"""


def gather(run_command, prefix, version, user=None, round_trip=None):
    """``round_trip``: {model, model_endpoint, model_api_key} for GitLab -> gateway -> model through GitLab's own
    client; the key travels on the runner's standard input."""
    body = _RUNNER_BODY % {"record": LOCATIONS[location_for(version)], "round_trip_ruby": ROUND_TRIP_RUBY}
    trip, key = None, None
    if round_trip:
        trip = {"model": round_trip.get("model"), "model_endpoint": round_trip.get("model_endpoint")}
        key = round_trip.get("model_api_key") or None
        trip["api_key_on_stdin"] = key is not None
    return _rails.run(run_command, prefix, body, {"user": user, "round_trip": trip}, secret=key)


def could_not_run(check, error):
    """A check that raised: say so, never a verdict."""
    return finding("gitlab.check_could_not_run", "{0}: could not run: {1}".format(check, error))


def _network_verdict(fact, finding_id, what, passed_id, passed_text):
    if "error" in fact:
        return could_not_run(what, fact["error"])
    if "network_error" in fact:
        return finding(finding_id, "{0}: {1}".format(what, fact["network_error"]))
    return passed(passed_id, passed_text)


def _no_proxy_covers(host, no_proxy):
    entries = [entry.strip().lstrip("*") for entry in (no_proxy or "").split(",") if entry.strip()]
    return any(host == entry.lstrip(".") or host.endswith(entry if entry.startswith(".") else "." + entry)
               or entry == "*" for entry in entries)


def settings_findings(settings, expected_url):
    found = []
    url = (settings.get("ai_gateway_url") or "").rstrip("/")
    if not url:
        found.append(finding("gitlab.ai_gateway_url_unset", "ai_gateway_url is empty"))
    elif expected_url and url != expected_url.rstrip("/"):
        found.append(finding("gitlab.ai_gateway_url_mismatch", "ai_gateway_url={0!r}, expected {1!r}".format(
            url, expected_url)))
    else:
        found.append(passed("gitlab.ai_gateway_url", url))
    agent = settings.get("duo_agent_platform_service_url") or ""
    if agent.lower().startswith(("http://", "https://")):
        found.append(finding("gitlab.agent_platform_url_has_scheme", "duo_agent_platform_service_url=" + agent))
    present = settings.get("present")
    if present is None or "enabled_instance_verbose_ai_logs" in present:
        if not settings.get("enabled_instance_verbose_ai_logs"):
            found.append(finding("gitlab.verbose_ai_logs_off", "enabled_instance_verbose_ai_logs is false"))
    return found


def user_findings(user):
    if not user.get("found"):
        return [finding("gitlab.user_no_code_suggestions_access", "no such user")]
    checks = ("can_access_code_suggestions", "ability_allowed", "allowed_to_use")
    failed_to_run = [(key, user[key]["error"]) for key in checks if isinstance(user.get(key), dict)
                     and "error" in user[key]]
    if failed_to_run:
        return [could_not_run("user access ({0})".format(key), error) for key, error in failed_to_run]
    denied = [key for key in checks if user.get(key) is not True]
    if denied:
        return [finding("gitlab.user_no_code_suggestions_access", ", ".join(
            "{0}={1}".format(key, user.get(key)) for key in checks))]
    return [passed("gitlab.user_access", "the user can use Code Suggestions with self-hosted models")]


def connectivity_findings(facts, url):
    found = []
    host = urlsplit(url).hostname or ""
    if facts.get("tcp") is not None:
        found.append(_network_verdict(facts["tcp"], "gitlab.gateway_tcp_failed", "TCP from Rails to the gateway",
                                      "gitlab.gateway_tcp", "TCP to {0}".format(facts["tcp"].get("target"))))
    if facts.get("tls") is not None:
        found.append(_network_verdict(facts["tls"], "gitlab.gateway_tls_failed", "TLS from Rails to the gateway",
                                      "gitlab.gateway_tls", "TLS {0}".format(facts["tls"].get("version"))))
    proxy = facts.get("proxy")
    if proxy and host and not _no_proxy_covers(host, proxy.get("no_proxy")):
        found.append(finding("gitlab.gateway_behind_proxy", "GitLab's processes use the proxy {0}; NO_PROXY={1!r} "
                             "does not name {2}".format(proxy.get("proxy"), proxy.get("no_proxy") or "", host)))
    if facts.get("agent_platform") is not None:
        found.append(_network_verdict(facts["agent_platform"], "gitlab.agent_platform_unreachable",
                                      "TCP from Rails to the Duo Agent Platform service", "gitlab.agent_platform",
                                      "TCP to {0}".format(facts["agent_platform"].get("target"))))
    return found


def websocket_findings(fact):
    """GitLab's own WebSocket upgrade check (AgentPlatformWebsocketCheck): 101 passes; 401/403 (rejected), any
    other status (not upgraded: a proxy dropped the Upgrade and Connection headers) and an error are findings."""
    if "error" in fact:
        return [could_not_run("the Agent Platform WebSocket upgrade", fact["error"])]
    status, code, url = fact.get("status"), fact.get("http_status"), fact.get("url")
    if status == "ok":
        return [passed("gitlab.agent_platform_websocket", "HTTP 101 at {0}".format(url))]
    if status == "not_upgraded":
        why = "HTTP {0} instead of 101: the Upgrade and Connection headers did not reach GitLab".format(code)
    elif status == "rejected":
        why = "HTTP {0}: the request reached GitLab but was not authorized".format(code)
    else:
        why = "could not reach it: {0}".format(fact.get("failure") or fact.get("network_error"))
    tls = "; TLS certificate not trusted (verification skipped)" if fact.get("tls_verified") is False else ""
    return [finding("gitlab.agent_platform_websocket_failed", "{0}: {1}{2}".format(url, why, tls))]


def fact_findings(facts, expected_url=None):
    found = []
    settings = facts.get("settings") or {}
    if "error" in settings:
        found.append(could_not_run("reading the AI settings", settings["error"]))
        settings = None
    else:
        found += settings_findings(settings, expected_url)
    if facts.get("legacy_env_url"):
        found.append(finding("gitlab.legacy_ai_gateway_url_env", "AI_GATEWAY_URL=" + facts["legacy_env_url"]))
    if facts.get("self_sign_tokens"):
        found.append(finding("gitlab.self_sign_tokens_on",
                             "CLOUD_CONNECTOR_SELF_SIGN_TOKENS=" + facts["self_sign_tokens"]))
    if facts.get("user") is not None:
        found += user_findings(facts["user"])
    features = facts.get("features_self_hosted") or {}
    if "error" in features:
        found.append(could_not_run("self-hosted feature settings", features["error"]))
    elif not features.get("value"):
        found.append(finding("gitlab.features_not_self_hosted",
                             "no code_completions/code_generations feature setting with provider self_hosted"))
    else:
        found.append(passed("gitlab.features_self_hosted"))
    primitive = facts.get("unit_primitive")
    if primitive is not None:
        if "error" in primitive:
            found.append(could_not_run("self-hosted unit primitive", primitive["error"]))
        elif not primitive.get("found"):
            found.append(finding("gitlab.unit_primitive_missing", "Gitlab::CloudConnector::DataModel::UnitPrimitive"
                                 ".find_by_name(:{0}) is nil".format(primitive.get("name"))))
    round_trip = facts.get("round_trip")
    if round_trip is not None:
        if "error" in round_trip:
            found.append(could_not_run("round trip through GitLab's AI gateway client", round_trip["error"]))
        elif answered(round_trip):
            found.append(passed("gitlab.model_round_trip", "the model answered through the gateway"))
        else:
            found.append(finding("gitlab.model_round_trip_failed", round_trip.get("network_error") or
                                 "HTTP {0}: {1}".format(round_trip.get("code"), round_trip.get("body"))))
    healthz = facts.get("healthz")
    if healthz is not None:
        if "error" in healthz:
            found.append(could_not_run("GET healthz from Rails", healthz["error"]))
        elif healthz.get("code") == 200:
            found.append(passed("gitlab.gateway_reachable", "Gitlab::HTTP GET healthz from Rails: 200"))
        else:
            found.append(finding("gitlab.gateway_unreachable", "from Rails: {0}".format(
                healthz.get("network_error") or "HTTP {0}".format(healthz.get("code")))))
    if settings:
        found += connectivity_findings(facts, settings.get("ai_gateway_url") or "")
    if facts.get("websocket") is not None:
        found += websocket_findings(facts["websocket"])
    return found


def rake_findings(parsed):
    """GitLab's verify task, read: an aborted run names its cause; failed marks; else a pass with the counts."""
    counts = parsed["counts"]
    if parsed.get("aborted") and not parsed["checks"] and parsed["cause"].startswith("exit code"):
        return [could_not_run("gitlab:duo:verify_self_hosted_setup", parsed["cause"])]
    if parsed.get("aborted"):
        return [finding("gitlab.verify_task_aborted", parsed["cause"][:500], passed_before=counts["passed"])]
    failed = [check["text"] for check in parsed["checks"] if check["status"] == "failed"]
    if failed:
        return [finding("gitlab.verify_task_failed", "; ".join(failed)[:500])]
    if not parsed["checks"]:
        return [could_not_run("gitlab:duo:verify_self_hosted_setup", "it printed no ✔/✗/⚠ line")]
    warnings = [check["text"] for check in parsed["checks"] if check["status"] == "warning"]
    return [passed("gitlab.verify_task", "{0} passed, {1} warning(s){2}".format(
        counts["passed"], counts["warning"], ": " + "; ".join(warnings) if warnings else ""))]


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
    try:
        lines = tail_lines(path, max_lines)
    except (IOError, OSError) as exc:
        return [could_not_run("reading " + path, exc)]
    hits = _log_rules.classify_llm_log(lines)
    found = _log_rules.findings_from(hits, os.path.basename(path))
    return found or [passed("gitlab.llm_log", "no known error pattern in the last {0} lines".format(max_lines))]


def diagnose(params, run_command):
    """The gitlab_diagnostics module's answer: every GitLab-side check in ONE gitlab-rails runner call, GitLab's
    verify task when asked, and llm.log; excerpts for a support bundle when asked. The whole answer (findings,
    facts, excerpts) is scrubbed of every secret it was given (the round trip's model key, ``secrets``): GitLab's
    output may quote them anywhere (an error message, a proxy variable, a log line)."""
    version = given_or_installed(params["gitlab_version"], params["version_file"],
                                 rails_command=params["rails_command"], run_command=run_command)
    facts = gather(run_command, params["rails_command"], version, params["user"], params["round_trip"])
    findings = fact_findings(facts, params["expected_ai_gateway_url"])
    if params["restored_verbose_logs"]:
        findings.insert(0, finding("gitlab.verbose_ai_logs_restored", "a marker of an interrupted run was found"))
    calls = 1
    excerpts = {}
    if params["run_rake"]:
        command = params["rake_command"] + [task_name(params["user"])]
        try:
            rc, stdout, stderr = run_command(command)
        except (IOError, OSError) as exc:
            findings.append(could_not_run(" ".join(command), exc))
        else:
            findings += rake_findings(parse(stdout, stderr, rc))
            excerpts["verify_self_hosted_setup.txt"] = redact(stdout + ("\n" + stderr if stderr else ""))
        calls += 1
    findings += llm_log_findings(params["llm_log"], params["llm_log_lines"])
    facts.pop("ok", None)
    result = dict(changed=False, findings=findings, worst=worst(findings), facts=facts, rails_runner_calls=calls)
    if params["collect_excerpts"]:
        excerpts["facts.json"] = json.dumps(facts, indent=2, sort_keys=True) + "\n"
        if os.path.exists(params["llm_log"]):
            excerpts["llm.log"] = "".join(redact(line) + "\n" for line in tail_lines(params["llm_log"], 200))
        result["excerpts"] = excerpts
    known = list(params.get("secrets") or []) + [(params["round_trip"] or {}).get("model_api_key")]
    return scrub(result, [secret for secret in known if secret])
