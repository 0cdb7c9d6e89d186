# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GitLab -> AI gateway -> model, through GitLab's own client (private to gitlab_duo.self_hosted).

``Gitlab::Llm::AiGateway::Client#complete(url:, body:)`` (ee/lib/gitlab/llm/ai_gateway/client.rb) POSTs to the URL it
is given with ``Gitlab::AiGateway.headers``: the instance's own token, which the gateway checks against the instance's
keys. So a runner script can try ANY gateway URL - the new gateway an upgrade started, before traffic reaches it -
with authentication as it is in production. GitLab's own verify task cannot do this: it reads the URL from the AI
settings only (``Gitlab::AiGateway.self_hosted_url`` is ``Ai::Setting.instance&.ai_gateway_url``; ``AI_GATEWAY_URL``
is only the default of a NEW settings row, ``Ai::Setting.defaults`` with SingletonRecord), and its request flow test
asks the model's endpoint directly (``GET <endpoint>/v1/models``), not through the gateway
(ee/lib/gitlab/duo/administration/verify_self_hosted_setup.rb, read at 18.9.0-pre and later snapshots).

The request is the one GitLab's troubleshooting documentation gives (POST /v1/chat/agent with prompt_components).
The model is the one given, or the instance's own self-hosted model (the one a feature setting uses, else the
first); its API key stays inside GitLab (or, when given, travels on the runner's standard input).
"""

from __future__ import annotations

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab import rails as _rails
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import redact, scrub
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import http_url

# Ruby shared with the troubleshoot diagnostics (gitlab_checks): defines round_trip_call(gateway_url, user, payload).
# Client.new takes unit_primitive_name: in current releases and service_name: in older ones: read from the method.
ROUND_TRIP_RUBY = """
round_trip_call = lambda do |gateway_url, user, payload|
  client_class = Gitlab::Llm::AiGateway::Client
  accepted = client_class.instance_method(:initialize).parameters.map(&:last)
  keyword = [:unit_primitive_name, :service_name].find { |name| accepted.include?(name) }
  client = client_class.new(user, **(keyword ? { keyword => :self_hosted_models } : {}))
  response = client.complete(url: "#{gateway_url.chomp('/')}/v1/chat/agent",
                             body: { prompt_components: [{ type: 'prompt',
                                                           metadata: { source: 'GitLab EE', version: '17.3.0' },
                                                           payload: payload }] })
  { 'code' => response.code, 'body' => response.body.to_s[0, 300] }
end
"""

# One runner call: the model (given, or the instance's own), the user, the request; a network failure is the
# verdict, any other exception means the check could not run (Gitlab::HTTP::HTTP_ERRORS,
# gems/gitlab-http/lib/gitlab/http_v2/exceptions.rb).
_RUNNER_BODY = ROUND_TRIP_RUBY + """
network_errors = [SystemCallError, SocketError, IOError, Timeout::Error, OpenSSL::SSL::SSLError]
network_errors += Gitlab::HTTP::HTTP_ERRORS if defined?(Gitlab::HTTP::HTTP_ERRORS)
given = request['model']
chosen = nil
if given.nil?
  # ee/app/models/ai/feature_setting.rb (self_hosted_model), ee/app/models/ai/self_hosted_model.rb (model, endpoint,
  # api_token): the model a feature uses, else the first one configured.
  ::Ai::FeatureSetting.all.includes(:self_hosted_model).find_each { |setting| chosen ||= setting.self_hosted_model }
  chosen ||= ::Ai::SelfHostedModel.all.first
end
if given.nil? && chosen.nil?
  { 'skipped' => 'no self-hosted model is configured on this instance' }
else
  if given
    model = { 'name' => given['model'], 'source' => 'given' }
    key = given['api_key_on_stdin'] ? $stdin.gets.to_s.chomp : nil
    payload = { model: given['model'], model_endpoint: given['model_endpoint'], model_api_key: key }
  else
    model = { 'name' => chosen.model.to_s, 'source' => "the instance's self-hosted model #{chosen.name}" }
    token = chosen.api_token.to_s
    payload = { model: chosen.model.to_s, model_endpoint: chosen.endpoint, model_api_key: token.empty? ? nil : token }
  end
  payload = { content: [{ role: :user, content: 'Hello' }], provider: :litellm }.merge(payload.compact)
  user = (request['user'] && User.find_by_username(request['user'])) || User.find_by_id(1)
  raise "no user #{request['user'] || 'with id 1'} in GitLab" if user.nil?

  begin
    { 'model' => model }.merge(round_trip_call.call(request['gateway_url'], user, payload))
  rescue *network_errors => e
    { 'model' => model, 'network_error' => "#{e.class}: #{e.message}"[0, 300] }
  end
end
"""


def gather(run_command, prefix, gateway_url, round_trip=None, user=None):
    """The runner's answer: ``model`` (name, source) and ``code``/``body``, ``network_error``, or ``skipped``."""
    trip, key = None, None
    if round_trip:
        trip = {"model": round_trip.get("model"), "model_endpoint": round_trip.get("model_endpoint")}
        key = round_trip.get("model_api_key") or None
        trip["api_key_on_stdin"] = key is not None
    try:
        return _rails.run(run_command, prefix, _RUNNER_BODY, {"gateway_url": gateway_url, "model": trip, "user": user},
                          secret=key)
    except DuoError as exc:
        if "rails_error" not in exc.details:
            raise
        raise DuoError("The model round trip could not run in GitLab: {0}".format(exc.details["rails_error"]),
                       rails_error=exc.details["rails_error"])


def answered(facts):
    """The model answered through the gateway: HTTP 200 with a response."""
    return facts.get("code") == 200 and '"response"' in (facts.get("body") or "")


def verdict(facts):
    """Why a round trip failed, in one line ("" when it passed or was skipped)."""
    if "skipped" in facts or answered(facts):
        return ""
    if facts.get("network_error"):
        return facts["network_error"]
    return "HTTP {0}: {1}".format(facts.get("code"), facts.get("body"))


def run(params, run_command):
    """The gitlab_round_trip module's answer: ok, skipped (why), model, status, body (redacted: the model's key and
    anything shaped like a credential), and fails with the reason when the model did not answer through the gateway
    at ``gateway_url``."""
    url = http_url("gateway_url", params["gateway_url"], allow_local=True, example="https://ai-gateway.example.com")
    key = (params["round_trip"] or {}).get("model_api_key")
    secrets = [key] if key else []
    facts = scrub(gather(run_command, params["rails_command"], url, params["round_trip"], params["user"]), secrets)
    model = facts.get("model") or {}
    result = dict(changed=False, gateway_url=url, model=model, status=facts.get("code"), body=facts.get("body"),
                  ok=answered(facts), skipped=facts.get("skipped"))
    if facts.get("skipped"):
        if params["require_model"]:
            raise DuoError("No model to try at {0}: {1}. Fix: configure a self-hosted model in GitLab (Admin > "
                           "GitLab Duo > Self-hosted models) or give round_trip.".format(url, facts["skipped"]),
                           **result)
        return result
    problem = verdict(facts)
    if problem:
        raise DuoError(redact("GitLab -> {0} -> model {1}: {2}".format(url, model.get("name"), problem), secrets),
                       **result)
    return result
