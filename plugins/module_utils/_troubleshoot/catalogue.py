# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The troubleshooting catalogue: one entry per symptom, with its likely cause, remedy and source
(private to gitlab_duo.self_hosted).

Data, not code paths: a check only says which entry it saw and the evidence; adding a check is adding an entry
here and a probe that emits it. ``check`` is the number of the check in GitLab's troubleshooting pages and support
playbook that the entry automates (7.1-7.21, "7 (log table)", "7 (codes)"); a finding's ``doc`` is its row in the
reference of docs/troubleshooting.md, which a unit test keeps in step with this catalogue.
"""

from __future__ import annotations

# The diagnostics modules' excerpts for a support bundle (fragment gitlab_duo.self_hosted.troubleshoot).
COLLECT_EXCERPTS_OPTION = dict(type="bool", default=False)
# Secret values the caller knows, scrubbed from everything a module returns or writes (fragment
# gitlab_duo.self_hosted.troubleshoot.secrets).
SECRETS_OPTION = dict(type="list", elements="str", default=[], no_log=True)
SEVERITIES = ("critical", "warning", "info", "ok")
REFERENCE_DOC = "docs/troubleshooting.md"

# id: (severity, title, likely cause, remedy, check)
CATALOGUE = {
    # -- GitLab side (checks 1-9) ----------------------------------------------------------------------------
    "gitlab.model_round_trip_failed": (
        "critical", "GitLab cannot get an answer from the model through the gateway",
        "The user lacks Code Suggestions access, the instance is not set to self-hosted models, the gateway is "
        "unreachable, the model's endpoint or API key is wrong, or the model runs on the gateway's host without "
        "host networking.",
        "Check the user's access and the self-hosted feature settings; prove GitLab -> gateway (healthz); a 404 "
        "from an OpenAI-compatible server means the endpoint lacks /v1, a 401 a missing or wrong model API key "
        "(give round_trip.model_api_key); if the model server runs on the gateway host, run the gateway with "
        "network_mode=host.", "7.1"),
    "gitlab.user_no_code_suggestions_access": (
        "critical", "The user cannot use Code Suggestions",
        "License invalid or expired, the instance is not configured for self-hosted models, or the user has no "
        "Duo Enterprise seat.", "Check the license and assign a GitLab Duo seat to the user (Admin > GitLab Duo).",
        "7.2"),
    "gitlab.features_not_self_hosted": (
        "warning", "Code completions/generations are not set to a self-hosted model",
        "The AI-native features still use the GitLab-hosted models.",
        "Admin > GitLab Duo > Self-hosted models > AI-native features: set Code Suggestions and Code generation "
        "to your self-hosted model.", "7.3"),
    "gitlab.ai_gateway_url_unset": (
        "critical", "ai_gateway_url is not set",
        "The gateway URL was never set, or an upgrade to 19.2 cleared it.",
        "Run playbooks/install.yml (or set it in Admin > GitLab Duo).", "7.4, 9"),
    "gitlab.ai_gateway_url_mismatch": (
        "critical", "ai_gateway_url is not the gateway this inventory serves it with",
        "The setting points at another or an old gateway.", "Run playbooks/install.yml to set the expected URL.",
        "7.4"),
    "gitlab.legacy_ai_gateway_url_env": (
        "warning", "The legacy AI_GATEWAY_URL environment variable is set",
        "An old configuration sets the URL in the environment; the database setting is what current GitLab uses.",
        "Remove AI_GATEWAY_URL from gitlab.rb / the environment and keep the database setting.", "7.4"),
    "gitlab.agent_platform_url_has_scheme": (
        "critical", "duo_agent_platform_service_url starts with http:// or https://",
        "The Agent Platform URL is a gRPC address, host:port.", "Set it to host:port without a scheme.", "7.5"),
    "gitlab.gateway_unreachable": (
        "critical", "GitLab's host cannot reach the gateway's /monitoring/healthz",
        "Network, firewall or proxy between GitLab and the gateway, DNS, TLS trust, or the gateway does not serve.",
        "Open the path GitLab -> gateway (port 5052 or the proxy's 443), fix DNS/NO_PROXY, trust the gateway's CA "
        "on GitLab (/etc/gitlab/trusted-certs), check the gateway container.", "7.6"),
    "gitlab.verbose_ai_logs_off": (
        "info", "Verbose AI logs are off",
        "llm.log holds little detail without them.",
        "For troubleshooting, enable them (enabled_instance_verbose_ai_logs) - not the expanded_ai_logging feature "
        "flag, which is for GitLab.com - and turn them off afterwards.", "7.7"),
    "gitlab.verbose_ai_logs_restored": (
        "info", "An interrupted run had left verbose AI logs on; they were set back",
        "A troubleshooting run stopped before restoring the setting.", "Nothing more to do.", "7.7"),
    "gitlab.no_llm_log": (
        "info", "No llm.log found", "AI logging is not enabled, or the path differs.",
        "Enable verbose AI logs; check /var/log/gitlab/gitlab-rails/llm.log and the Rails/Sidekiq logs.", "7.8"),
    "gitlab.unit_primitive_missing": (
        "critical", "GitLab does not know the self_hosted_models unit primitive",
        "Gitlab::CloudConnector::DataModel::UnitPrimitive.find_by_name(:self_hosted_models) is nil: the "
        "gitlab-cloud-connector gem's catalogue lacks it, so User#allowed_to_use? denies every self-hosted feature "
        "(ee/app/models/concerns/ai/user_authorizable.rb).",
        "Confirm with CLOUD_CONNECTOR_SELF_SIGN_TOKENS=1 (diagnosis only, never in production), then escalate.",
        "7.9"),
    "gitlab.self_sign_tokens_on": (
        "warning", "CLOUD_CONNECTOR_SELF_SIGN_TOKENS is set on GitLab",
        "Left behind by a diagnosis of missing unit primitives; GitLab then signs its own Cloud Connector tokens.",
        "Remove it from gitlab_rails['env'] (gitlab.rb), run gitlab-ctl reconfigure and restart GitLab: it is for "
        "diagnosis only, never for production.", "7.9"),
    "gitlab.verify_task_aborted": (
        "critical", "GitLab's own verify_self_hosted_setup stopped at a fatal problem (rake aborted!)",
        "The task raises at the first fatal problem - no AI gateway URL, no license access for the user, the "
        "gateway unreachable, an unknown user - and prints no summary; the evidence quotes the raised message.",
        "Fix what the message names (it is the task's own words), then rerun the task.", "6, 9"),
    "gitlab.check_could_not_run": (
        "warning", "A GitLab-side check could not run",
        "The check raised before it could decide (a class or method this GitLab version lacks, a Rails error, an "
        "unreadable file); its verdict is unknown, not negative.",
        "Read the exception in the evidence; run the check by hand in gitlab-rails console; report it if this "
        "GitLab version is supported.", "6"),
    "gitlab.gateway_tcp_failed": (
        "critical", "GitLab's host cannot open a TCP connection to the gateway",
        "Nothing listens at the gateway URL's host and port, or a firewall or DNS blocks it.",
        "Check the gateway container and its published port, DNS for the gateway's name on GitLab's host, and the "
        "firewall between them.", "7.6"),
    "gitlab.gateway_tls_failed": (
        "critical", "GitLab's host cannot complete a verified TLS handshake with the gateway",
        "The gateway's certificate is not trusted by GitLab, does not name the host, or has expired.",
        "Put the gateway's CA in /etc/gitlab/trusted-certs and run gitlab-ctl reconfigure; make the certificate "
        "name the gateway URL's host.", "7.6"),
    "gitlab.gateway_behind_proxy": (
        "warning", "GitLab's processes reach the gateway through an HTTP proxy",
        "http(s)_proxy is set for GitLab and NO_PROXY does not name the gateway's host: requests to the gateway "
        "go through the proxy (TLS inspection, streaming and WebSocket upgrades break there).",
        "Add the gateway's host to no_proxy in gitlab_rails['env'] (gitlab.rb) and run gitlab-ctl reconfigure.",
        "7.6"),
    "gitlab.agent_platform_unreachable": (
        "critical", "GitLab's host cannot reach the Duo Agent Platform (Workflow) service",
        "Nothing listens at duo_agent_platform_service_url's host:port (gRPC, 50052 by default), or a firewall "
        "blocks it.", "Check the gateway's Duo Workflow service and its published port; set "
        "duo_agent_platform_service_url to a host:port GitLab's host reaches.", "7.5"),
    "gitlab.agent_platform_websocket_failed": (
        "warning", "The Duo Agent Platform's WebSocket upgrade through GitLab's own URL does not complete",
        "GitLab's own check (AgentPlatformWebsocketCheck, in the newer verify task) sends a WebSocket upgrade to "
        "<external URL>/api/v4/ai/duo_workflows/ws and gets no HTTP 101: a load balancer or reverse proxy in front "
        "of GitLab does not forward the Upgrade and Connection headers (any other status), strips authentication "
        "(401/403), or GitLab cannot reach its own external URL (an error). Agent Platform sessions in the IDE and "
        "the web UI fail; Code Suggestions and Duo Chat are not affected.",
        "In the proxy in front of GitLab, for api/v4/ai/duo_workflows/ws: proxy_http_version 1.1; proxy_set_header "
        "Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\" (NGINX); let GitLab's host resolve and reach "
        "its own external URL; on 401/403 check the user's Duo seat and that the proxy keeps the Authorization "
        "header.", "7.5"),
    "gitlab.verify_task_failed": (
        "critical", "GitLab's own verify_self_hosted_setup reports failures",
        "See the failed checks in the evidence.", "Fix each failed check; rerun the task.", "6, 9"),
    # -- Gateway side (checks 10-21) ------------------------------------------------------------------------
    "gateway.check_could_not_run": (
        "warning", "A gateway-side check could not run",
        "The command inside the container or the Docker call failed before it could decide (missing tool, "
        "Docker API error); its verdict is unknown, not negative.",
        "Read the error in the evidence; run the check by hand with docker exec.", "6"),
    "gateway.container_missing": (
        "critical", "The gateway container does not exist", "It was never installed or was removed.",
        "Run playbooks/install.yml.", "7.11"),
    "gateway.container_not_running": (
        "critical", "The gateway container is not running", "It exited or keeps crashing (see its log).",
        "Read the evidence's log lines; fix the environment or image; run playbooks/install.yml.", "7.11"),
    "gateway.restarting": (
        "warning", "The gateway container has restarted", "It crashes and Docker restarts it.",
        "Read its log; check memory (OOM), the environment and the model endpoints.", "7.11"),
    "gateway.oom_killed": (
        "critical", "The gateway was killed for lack of memory", "The host or a memory limit is too small.",
        "Give the gateway more memory (at least 512 MB; see sizing).", "5"),
    "gateway.healthz_failed": (
        "critical", "The gateway does not answer /monitoring/healthz with 200", "The install is broken.",
        "Read the container log; reinstall with playbooks/install.yml.", "7.11"),
    "gateway.custom_models_disabled": (
        "critical", "AIGW_CUSTOM_MODELS__ENABLED is not true", "Self-hosted models are switched off in the gateway.",
        "Set AIGW_CUSTOM_MODELS__ENABLED=true (ai_gateway_custom_models_enabled) and rerun install.yml.", "7.10"),
    "gateway.gitlab_url_mismatch": (
        "critical", "AIGW_GITLAB_URL does not match the GitLab instance", "The gateway checks tokens against another "
        "GitLab.", "Set the instance's gitlab_url and rerun install.yml.", "7.10"),
    "gateway.gitlab_api_url_unset": (
        "critical", "AIGW_GITLAB_API_URL is not set", "The gateway cannot reach GitLab's API for JWKS.",
        "Rerun install.yml (it derives <gitlab_url>/api/v4/).", "7.10"),
    "gateway.auth_bypass_on": (
        "critical", "AIGW_AUTH__BYPASS_EXTERNAL is true", "Authentication is off: left over from troubleshooting.",
        "Rerun install.yml without it; never bypass authentication in production.", "7.10"),
    "gateway.gitlab_unreachable": (
        "critical", "The gateway cannot reach GitLab's API", "Network, DNS or proxy settings inside the container; "
        "shows as JWTError / 'No keys founds in JWKS'.", "Make AIGW_GITLAB_API_URL reachable from the container; set "
        "NO_PROXY for GitLab.", "7.14"),
    "gateway.model_endpoint_unreachable": (
        "critical", "The gateway cannot reach a model endpoint", "The model server is down or the container's "
        "network blocks it.", "Check the model server's /health; with the model on the same host use host networking.",
        "7.13"),
    "gateway.model_via_gateway_failed": (
        "critical", "The gateway's own /v1/chat/agent call to the model fails",
        "The gateway is not configured for self-hosted models, the model is unreachable, or the model name or "
        "endpoint is wrong.", "Check AIGW_CUSTOM_MODELS__ENABLED, the model endpoint (OpenAI-compatible: ends in /v1) "
        "and the model name (vLLM --served-model-name).", "7.12"),
    "gateway.log_errors": (
        "warning", "Errors in the gateway's log", "See the evidence (model, litellm and custom_openai lines first).",
        "Read the lines in the evidence; they usually name the model endpoint or setting at fault.", "7.21"),
    "gateway.openai_endpoint_without_v1": (
        "critical", "An OpenAI-compatible (vLLM) endpoint does not end in /v1", "vLLM answers 404 without it.",
        "Use http(s)://<host>:<port>/v1 as the model endpoint.", "7.17"),
    "gateway.bedrock_identifier_without_region": (
        "critical", "A Bedrock model identifier has no region prefix", "On-demand throughput is not supported for "
        "the bare model id.", "Use bedrock/<region>.<model-id>, e.g. bedrock/us.meta.llama3-3-70b-instruct-v1:0.",
        "7.18"),
    "gateway.platform_mismatch": (
        "critical", "The image's platform does not match the host", "The gateway image is linux/amd64.",
        "Set ai_gateway_platform=linux/amd64 (with emulation) or use an amd64 host.", "7.15"),
    "gateway.port_conflict": (
        "critical", "The gateway's port (or metrics port) clashes with another process", "On the host network "
        "8082 is often taken.", "Free the port, or set AIGW_FASTAPI__METRICS_PORT=8083 with host networking.", "7.16"),
    "gateway.ca_bundle_missing": (
        "critical", "SSL_CERT_FILE / REQUESTS_CA_BUNDLE point at a missing file", "The CA bundle was not mounted.",
        "Set ai_gateway_ca_bundle to the PEM file on the host and rerun install.yml.", "7.19"),
    "gateway.tmp_not_writable": (
        "warning", "/tmp is not writable in the container", "A read-only root or /tmp (OpenShift).",
        "Mount a writable emptyDir/tmpfs at /tmp.", "7.20"),
    "gateway.hf_home_not_writable": (
        "warning", "HF_HOME is not writable", "The Hugging Face cache directory is read-only ([Errno 13] "
        "Permission denied: '/home/aigateway/.hf/...').", "Set HF_HOME=/var/tmp/huggingface.", "7.20"),
    "gateway.jwt_keys_missing": (
        "critical", "The gateway's JWT signing keys are not set", "Newer gateways need AIGW_SELF_SIGNED_JWT__* "
        "('Token creation failed', JWK errors).", "Rerun install.yml: it generates the JWT keys once and keeps them.", "9"),
    "gateway.proxy_without_no_proxy": (
        "warning", "HTTP(S)_PROXY is set without NO_PROXY for GitLab and the model hosts",
        "Requests to GitLab or the models go through the proxy (no local DNS, TLS inspection).",
        "Add GitLab's and the model endpoints' hosts to NO_PROXY.", "9"),
    "gateway.oidc_portal_empty": (
        "critical", "The OIDC customer-portal URL is empty", "The Duo Workflow service crashes ('Could not prefetch "
        "keys').", "Air-gapped: set ai_gateway_airgapped=true (points it at GitLab).", "9"),
    "gateway.deep_test_failed": (
        "critical", "The gateway's own troubleshoot command reports a failed step",
        "See the failed steps in the evidence (environment, health, GitLab API, system exchange, model).",
        "Fix the first failed step; rerun with troubleshoot_deep_test.", "6"),
    "gateway.auth_bypass_restored": (
        "warning", "An interrupted deep test had left authentication bypassed; it was switched back on",
        "A troubleshooting run stopped before restoring the gateway.",
        "Nothing more to do: the gateway runs with authentication again. Check who ran the deep test.", "6"),
    "gateway.version_skew": (
        "warning", "The gateway's release does not match its GitLab instance's version",
        "The gateway must track its instance (newer gateway + older GitLab: '16:Forbidden by auth provider').",
        "Run playbooks/install.yml (it picks the tag for the instance's version).", "2, 9"),
    # -- Log patterns (support playbook table) --------------------------------------------------------------
    "log.connection_refused": (
        "critical", "'Connection refused' in GitLab's logs", "The gateway is unreachable.",
        "Check the gateway container and the network path.", "7 (log table)"),
    "log.not_found_404": (
        "critical", "'404 Not Found' in the gateway's logs", "The model endpoint lacks /v1.",
        "End OpenAI-compatible endpoints in /v1.", "7 (log table)"),
    "log.unauthorized": (
        "critical", "401/403 answers in GitLab's logs", "Authentication, license, seat, or a wrong gateway URL.",
        "Check the license and seats, ai_gateway_url, and the gateway's AIGW_GITLAB_URL.", "7 (log table)"),
    "log.timeout": (
        "warning", "Timeouts in the logs", "Network or model performance.",
        "Check model resources and latency; raise ai_gateway_timeout_seconds (60-600).", "7 (log table)"),
    "log.ssl_verify_failed": (
        "critical", "'SSL certificate verify failed' in the logs", "Certificate validation fails.",
        "Trust the right CA (GitLab: /etc/gitlab/trusted-certs; gateway: ai_gateway_ca_bundle).", "7 (log table)"),
    "log.jwt_error": (
        "critical", "JWT/JWKS errors in the gateway's logs", "The gateway cannot fetch GitLab's keys (network, "
        "proxy) - 'Signature verification failed' / 'No keys founds in JWKS'.",
        "Make GitLab's API reachable from the gateway; NO_PROXY.", "7.14"),
    "log.not_enough_segments": (
        "critical", "'Not enough segments' JWT errors", "A malformed or missing token (proxy stripping headers, "
        "version skew).", "Check proxies between GitLab and the gateway; align versions.", "9"),
    "log.token_creation_failed": (
        "critical", "'Token creation failed' in the gateway's logs", "The self-signed JWT keys are missing.",
        "Rerun install.yml (JWT keys).", "9"),
    "log.forbidden_by_auth_provider": (
        "critical", "'Forbidden by auth provider' in the logs", "Version skew between gateway and GitLab.",
        "Run install.yml so the gateway tracks the instance's version.", "9"),
    "log.hf_permission_denied": (
        "warning", "Permission denied on the Hugging Face cache", "HF_HOME is not writable.",
        "Set HF_HOME=/var/tmp/huggingface.", "7.20"),
    "log.bedrock_on_demand": (
        "critical", "Bedrock refuses on-demand throughput for the model", "The identifier lacks the region prefix.",
        "Use bedrock/<region>.<model-id>.", "7.18"),
    # -- Duo Chat error codes -----------------------------------------------------------------------------
    "chat.A1000": ("warning", "A1000: the request to the model timed out",
                   "Slow model, too few resources, network latency, cross-region Bedrock inference.",
                   "Raise the gateway timeout (60-600 s); check model performance and resources.", "7 (codes)"),
    "chat.A1001": ("critical", "A1001: GitLab could not reach the gateway", "Network.",
                   "Check the GitLab -> gateway path; run the debugging scripts.", "7 (codes)"),
    "chat.A1002": ("warning", "A1002: no events from the gateway, or GitLab could not parse them",
                   "Gateway-side failure.", "Read the gateway's logs.", "7 (codes)"),
    "chat.A1003": ("warning", "A1003: streaming from the model to the gateway is broken",
                   "The model or a proxy breaks streaming.",
                   "Test /v2/chat/agent with verbose logs; set AIGW_CUSTOM_MODELS__DISABLE_STREAMING=true to confirm.",
                   "7 (codes)"),
    "chat.A1004": ("warning", "A1004: the gateway's agent returned an error event",
                   "The model or the gateway failed while answering (AgentEventError).",
                   "Read the gateway's logs at the time of the error; check the model.", "7 (codes)"),
    "chat.A1005": ("info", "A1005: the prompt is too long for the model",
                   "The conversation exceeds the model's context window.",
                   "Run /clear or /reset in Duo Chat; use a model with a larger context.", "7 (codes)"),
    "chat.A1006": ("warning", "A1006: the Duo Chat agent reached its step limit",
                   "The ReAct loop ended before an answer (ExhaustedLoopError); weak or slow models hit it more.",
                   "Try a more specific prompt or /clear; check the model's quality for agentic use.", "7 (codes)"),
    "chat.A6000": ("info", "A6000: Duo Chat gave its default final answer",
                   "The model returned no usable final answer.",
                   "Retry with a more specific request; check the model's answers in the gateway's logs.", "7 (codes)"),
    "chat.A9999": ("warning", "A9999: unknown ReAct agent error", "Unknown.", "Retry; report to support.",
                   "7 (codes)"),
    "chat.G3001": ("warning", "G3001: the question needs a Duo subscription the user lacks",
                   "A tool the answer needs is not available to the user's add-on.",
                   "Assign the user a seat of the add-on that includes the feature (Admin > GitLab Duo).", "7 (codes)"),
    "chat.G3002": ("info", "G3002: the user has no default GitLab Duo namespace",
                   "The user did not select a default namespace for GitLab Duo.",
                   "The user selects one in Preferences > Behavior.", "7 (codes)"),
    "chat.M3006": ("critical", "M3006: the gateway refused the request for lack of a subscription (403)",
                   "Gitlab::AiGateway::ForbiddenError: the gateway answered 403 (seat, license or version skew).",
                   "Check the user's seat and the license; align the gateway's version with GitLab's.", "7 (codes)"),
}


def finding(finding_id, evidence=None, **extra):
    """A finding dict for a catalogue entry (KeyError for an unknown id: a probe must emit catalogued ids)."""
    severity, title, cause, remedy, _check = CATALOGUE[finding_id]
    result = {"id": finding_id, "severity": severity, "title": title, "evidence": evidence, "cause": cause,
              "remedy": remedy, "doc": doc_link(finding_id)}
    result.update(extra)
    return result


def doc_link(finding_id):
    """Where the finding is explained in the repository: its row in the reference of docs/troubleshooting.md."""
    return "{0}#{1}".format(REFERENCE_DOC, finding_id)


def passed(check_id, evidence=None):
    """A check that found nothing wrong."""
    return {"id": check_id + ".ok", "severity": "ok", "title": check_id, "evidence": evidence, "cause": None,
            "remedy": None, "doc": None}


def worst(findings):
    order = {severity: index for index, severity in enumerate(SEVERITIES)}
    return min((item["severity"] for item in findings), key=order.get, default="ok")
