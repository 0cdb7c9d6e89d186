# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One gateway container diagnosed (private to gitlab_duo.self_hosted): read its state, environment, image and
log from the Docker engine, look from inside it, and turn all of it into catalogue findings."""

from __future__ import annotations

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import docker_client, find
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.environment import (
    is_secret_name, mask_env)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.jwt_keys import JWT_KEY_VARIABLES
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import parse_gitlab_version
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import redact, scrub
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import finding, worst
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.gateway_checks import (
    container_env, env_findings, image_findings, inside_findings, log_findings, model_endpoint_findings,
    model_reachability, state_findings)


def excerpts(container, env, log_tail):
    masked = mask_env(env, tuple(JWT_KEY_VARIABLES))
    return {"environment.txt": "".join("{0}={1}\n".format(key, value) for key, value in masked.items()),
            "gateway.log": "".join(redact(line) + "\n" for line in log_tail),
            "image.txt": "{0}\n{1}\n".format(container.attrs["Config"]["Image"], container.attrs["Image"])}


def env_secrets(env):
    """The values of the container's secret-looking variables and JWT keys: redacted wherever they appear."""
    return [value for key, value in env.items() if value and (is_secret_name(key) or key in JWT_KEY_VARIABLES)]


def diagnose(client, params, collected, secrets):
    container = find(client, params["name"])
    if container is None:
        return [finding("gateway.container_missing", "no container named {0!r}".format(params["name"]))]
    attrs = container.attrs
    log_tail = container.logs(tail=params["log_lines"]).decode("utf-8", "replace").splitlines()
    env = container_env(attrs)
    secrets.extend(env_secrets(env))
    version = parse_gitlab_version(params["gitlab_version"]) if params["gitlab_version"] else None
    image = client.images.get(attrs["Image"])
    found = state_findings(attrs, log_tail[-20:])
    found += env_findings(env, params["gitlab_url"], attrs["HostConfig"].get("NetworkMode"), params["model_endpoints"])
    found += image_findings(attrs["Config"]["Image"], version, image.attrs.get("Architecture"),
                            client.info().get("Architecture"))
    found += model_endpoint_findings(params["model_endpoints"])
    if params["inside_checks"] and attrs["State"].get("Running"):
        def run_inside(command):
            try:
                result = container.exec_run(command)
            except Exception as exc:  # pylint: disable=broad-except  # any Docker failure: the check could not run
                return 126, "Docker could not exec in the container: {0}".format(exc)
            return result.exit_code, result.output.decode("utf-8", "replace")
        found += inside_findings(run_inside, env, params["gitlab_url"])
        found += model_reachability(run_inside, params["model_endpoints"])
    found += log_findings(log_tail)
    if params["collect_excerpts"]:
        collected.update(excerpts(container, env, log_tail))
    return found


def run(params):
    """The gateway_diagnostics module's answer: findings, the worst severity, and excerpts when asked."""
    collected, secrets = {}, []
    findings = diagnose(docker_client(params["docker_host"]), params, collected, secrets)
    if params["restored_auth_bypass"]:
        findings.insert(0, finding("gateway.auth_bypass_restored", "a deep test's marker was found and the "
                                   "gateway was restarted without AIGW_AUTH__BYPASS_EXTERNAL"))
    result = dict(changed=False, findings=findings, worst=worst(findings))
    if params["collect_excerpts"]:
        result["excerpts"] = collected
    return scrub(result, secrets)
