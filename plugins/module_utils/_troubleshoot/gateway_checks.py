# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateway-side diagnostics (private to gitlab_duo.self_hosted): what the container, its environment, its
image, commands run inside it and its log say, as catalogue findings. Changes nothing."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import image_tag
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import log_rules as _log_rules
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import finding, passed
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.environment import (
    api_port, auth_bypasses, bypass_text, is_true)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.jwt_keys import JWT_KEY_VARIABLES
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.probe import http_get_command
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.release import release_tag_version

_BEDROCK = re.compile(r"^bedrock/(us|eu|apac|ap|ca|sa|us-gov)\.[\w.\-:]+$")
_ERROR_LINE = re.compile(r"\"level\"\s*:\s*\"(error|critical)\"|\bERROR\b|Traceback", re.I)
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


def container_env(attrs):
    return dict(item.split("=", 1) for item in attrs["Config"].get("Env") or [] if "=" in item)


def state_findings(attrs, log_tail):
    state = attrs["State"]
    found = []
    if not state.get("Running"):
        found.append(finding("gateway.container_not_running", "status {0}, exit code {1}; last log: {2}".format(
            state.get("Status"), state.get("ExitCode"), " | ".join(log_tail[-5:]) or "(empty)")))
        if any("address already in use" in line.lower() for line in log_tail):
            found.append(finding("gateway.port_conflict", next(
                line for line in log_tail if "address already in use" in line.lower())))
    else:
        found.append(passed("gateway.container_running", "running since " + str(state.get("StartedAt"))))
    if state.get("OOMKilled"):
        found.append(finding("gateway.oom_killed", "State.OOMKilled is true"))
    restarts = attrs.get("RestartCount") or 0
    if restarts:
        found.append(finding("gateway.restarting", "{0} restart(s)".format(restarts)))
    return found


def env_findings(env, gitlab_url, network_mode, model_endpoints=()):
    found = []
    if not is_true(env.get("AIGW_CUSTOM_MODELS__ENABLED")):
        found.append(finding("gateway.custom_models_disabled",
                             "AIGW_CUSTOM_MODELS__ENABLED={0!r}".format(env.get("AIGW_CUSTOM_MODELS__ENABLED"))))
    else:
        found.append(passed("gateway.custom_models_enabled", "AIGW_CUSTOM_MODELS__ENABLED=true"))
    actual = (env.get("AIGW_GITLAB_URL") or "").rstrip("/")
    if gitlab_url and actual != gitlab_url.rstrip("/"):
        found.append(finding("gateway.gitlab_url_mismatch", "AIGW_GITLAB_URL={0!r}, instance {1!r}".format(
            actual, gitlab_url)))
    elif gitlab_url:
        found.append(passed("gateway.gitlab_url", "AIGW_GITLAB_URL=" + actual))
    if not env.get("AIGW_GITLAB_API_URL"):
        found.append(finding("gateway.gitlab_api_url_unset", "AIGW_GITLAB_API_URL is not in the environment"))
    bypasses = auth_bypasses(env)
    if bypasses:
        found.append(finding("gateway.auth_bypass_on", bypass_text(bypasses)))
    else:
        found.append(passed("gateway.auth_bypass_off"))
    missing = [name for name in JWT_KEY_VARIABLES if name.startswith("AIGW_") and not env.get(name)]
    if missing:
        found.append(finding("gateway.jwt_keys_missing", "not set: " + ", ".join(missing)))
    proxies = [name for name in PROXY_VARIABLES if env.get(name)]
    if proxies:
        no_proxy = [entry.strip() for entry in (env.get("NO_PROXY") or env.get("no_proxy") or "").split(",")
                    if entry.strip()]
        hosts = [urlsplit(gitlab_url or env.get("AIGW_GITLAB_URL", "")).hostname or ""]
        hosts += [urlsplit(item.get("url") or "").hostname or "" for item in model_endpoints or []]
        missing = [host for host in hosts if host and not any(host.endswith(entry.lstrip("*")) for entry in no_proxy)]
        if missing:
            found.append(finding("gateway.proxy_without_no_proxy", "{0} set; NO_PROXY={1!r} lacks {2}".format(
                "/".join(proxies), ",".join(no_proxy), ", ".join(sorted(set(missing))))))
    if "DUO_WORKFLOW_AUTH__OIDC_CUSTOMER_PORTAL_URL" in env and not env["DUO_WORKFLOW_AUTH__OIDC_CUSTOMER_PORTAL_URL"]:
        found.append(finding("gateway.oidc_portal_empty", "DUO_WORKFLOW_AUTH__OIDC_CUSTOMER_PORTAL_URL is empty"))
    if network_mode == "host" and not env.get("AIGW_FASTAPI__METRICS_PORT"):
        found.append(finding("gateway.port_conflict", "host network with the metrics port on its default 8082"))
    return found


def image_findings(image_ref, gitlab_version, image_arch, host_arch):
    found = []
    tag = image_tag(image_ref or "") or ""  # also from 'repo:tag@sha256:...', as the ai_gateway role runs it
    parts = release_tag_version(tag)
    if gitlab_version is not None:
        if parts is None or parts[:2] != (gitlab_version.major, gitlab_version.minor):
            found.append(finding("gateway.version_skew", "image tag {0!r}, GitLab {1}.{2}.{3}".format(
                tag or "(none)", gitlab_version.major, gitlab_version.minor, gitlab_version.patch)))
        else:
            found.append(passed("gateway.version_matches", "{0} for GitLab {1}.{2}".format(
                tag, gitlab_version.major, gitlab_version.minor)))
    normalise = {"x86_64": "amd64", "aarch64": "arm64"}
    if image_arch and host_arch and normalise.get(image_arch, image_arch) != normalise.get(host_arch, host_arch):
        found.append(finding("gateway.platform_mismatch", "image {0}, host {1}".format(image_arch, host_arch)))
    return found


def model_endpoint_findings(endpoints):
    found = []
    for endpoint in endpoints or []:
        kind = endpoint.get("kind", "openai")
        if kind == "openai" and not (endpoint.get("url") or "").rstrip("/").endswith("/v1"):
            found.append(finding("gateway.openai_endpoint_without_v1", "model endpoint {0!r}".format(endpoint.get("url"))))
        if kind == "bedrock" and not _BEDROCK.match(endpoint.get("identifier") or ""):
            found.append(finding("gateway.bedrock_identifier_without_region",
                                 "identifier {0!r}".format(endpoint.get("identifier"))))
    return found


def log_findings(lines):
    hits = _log_rules.classify(lines, _log_rules.GATEWAY_RULES)
    found = _log_rules.findings_from(hits, "gateway log")
    unexplained = [line for line in lines if _ERROR_LINE.search(line)
                   and not any(pattern.search(line) for _id, pattern in _log_rules.GATEWAY_RULES)]
    if unexplained:
        found.append(finding("gateway.log_errors", "{0} error line(s), e.g. {1}".format(
            len(unexplained), _log_rules.redact(unexplained[-1])[:300]), count=len(unexplained)))
    return found


# Commands run inside the container (busybox in the lab's stand-in, a full shell in the real image); GET is
# probe.http_get_command, shared with the gateway's health check inside its container.
def http_post_json_command(url, body):
    """POST ``body`` (JSON text) to ``url`` from inside the container; like http_get_command's output."""
    fallback = ("import sys,urllib.parse as p,http.client as h;u=p.urlsplit(sys.argv[1]);"
                "c=h.HTTPConnection(u.hostname,u.port,timeout=60);"
                "c.request('POST',u.path,sys.argv[2],{'Content-Type':'application/json','accept':'application/json'});"
                "r=c.getresponse();b=r.read()[:300].decode();"
                "print('server returned error: HTTP %d %s' % (r.status,b) if r.status>=400 else b);sys.exit(r.status>=400)")
    script = ('if command -v wget >/dev/null 2>&1; then timeout 60 wget -q -O - --header "Content-Type: application/json" '
              '--post-data "$1" "$0" 2>&1; else python3 -c "$2" "$0" "$1" 2>&1; fi')
    return ["sh", "-c", script, url, body, fallback]


def reachable(exit_code, output):
    """An HTTP answer of any status counts as reachable; refused, DNS and timeouts do not."""
    text = (output or "").lower()
    return exit_code == 0 or "server returned error" in text or "http error" in text


def writable_command(path):
    return ["sh", "-c", 'mkdir -p "$0" && touch "$0/.duo-write-test" && rm -f "$0/.duo-write-test"', path]


def could_not_run(what, code, output):
    return finding("gateway.check_could_not_run", "{0}: could not run: exit code {1}: {2}".format(
        what, code, (output or "").strip()[-300:] or "(no output)"))


def did_not_run(code, output):
    """The shell could not start the command (126/127: not executable, not found) or Docker could not exec."""
    return code in (126, 127) or "executable file not found" in (output or "")


def inside_findings(run, env, gitlab_url):
    """``run(command) -> (exit_code, output)`` executes inside the container."""
    found = []
    port = api_port(env)
    code, output = run(http_get_command("http://127.0.0.1:{0}/monitoring/healthz".format(port)))
    if did_not_run(code, output):
        found.append(could_not_run("GET healthz inside the container", code, output))
    elif code != 0:
        found.append(finding("gateway.healthz_failed", output.strip()[:300] or "exit code {0}".format(code)))
    else:
        found.append(passed("gateway.healthz", "200 from inside the container"))
    api_url = env.get("AIGW_GITLAB_API_URL") or ((gitlab_url or "").rstrip("/") + "/api/v4/")
    code, output = run(http_get_command(api_url.rstrip("/") + "/projects"))
    if did_not_run(code, output):
        found.append(could_not_run("GET GitLab's API inside the container", code, output))
    elif not reachable(code, output):
        found.append(finding("gateway.gitlab_unreachable", "{0}/projects: {1}".format(
            api_url.rstrip("/"), output.strip()[:300])))
    else:
        found.append(passed("gateway.gitlab_reachable", api_url))
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if env.get(variable):
            code, output = run(["test", "-f", env[variable]])
            if did_not_run(code, output):
                found.append(could_not_run("test -f " + env[variable], code, output))
            elif code != 0:
                found.append(finding("gateway.ca_bundle_missing", "{0}={1} does not exist".format(variable, env[variable])))
    hf_home = env.get("HF_HOME") or "/home/aigateway/.hf"
    for path, finding_id in (("/tmp", "gateway.tmp_not_writable"), (hf_home, "gateway.hf_home_not_writable")):
        code, output = run(writable_command(path))
        if did_not_run(code, output):
            found.append(could_not_run("write test in " + path, code, output))
        elif code != 0:
            found.append(finding(finding_id, "cannot write to {0}: {1}".format(path, output.strip()[:200] or code)))
    return found


def model_reachability(run, endpoints):
    found = []
    for endpoint in endpoints or []:
        if endpoint.get("kind", "openai") != "openai" or not endpoint.get("url"):
            continue
        code, output = run(http_get_command(endpoint["url"].rstrip("/") + "/models"))
        if did_not_run(code, output):
            found.append(could_not_run("GET the model's /models inside the container", code, output))
        elif not reachable(code, output):
            found.append(finding("gateway.model_endpoint_unreachable", "{0}: {1}".format(
                endpoint["url"], output.strip()[:300])))
    return found
