# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AI Gateway container's environment (private to gitlab_duo.self_hosted).

Derives the AIGW_* variables from a few facts (GitLab URL, network mode, CA bundle, air-gapped),
lets the caller add or override variables, refuses an authentication bypass outside
troubleshooting, and masks secrets wherever the environment is shown.
"""

from __future__ import annotations

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import http_url

CA_BUNDLE_IN_CONTAINER = "/etc/ssl/certs/gitlab-duo-ca-bundle.pem"
DEFAULT_API_PORT = 5052
DEFAULT_METRICS_PORT = 8082
HOST_NETWORK_METRICS_PORT = 8083
REDACTED = "<redacted>"
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "EXTRA_HEADERS", "AUTHORIZATION")
_TRUE = ("true", "1", "yes", "on")


def is_true(value):
    """How the gateway reads a boolean variable (true/1/yes/on, any case)."""
    return str(value or "").strip().lower() in _TRUE


def is_secret_name(name):
    upper = name.upper()
    return any(marker in upper for marker in _SECRET_MARKERS)


def mask_env(env, secret_names=()):
    return {key: (REDACTED if is_secret_name(key) or key in secret_names else value)
            for key, value in sorted(env.items())}


def as_env_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def api_url_for(gitlab_url):
    return gitlab_url.rstrip("/") + "/api/v4/"


def gateway_environment(gitlab_url, gitlab_api_url=None, custom_models=True, host_network=False,
                        ca_bundle=False, airgapped=False, extra=None, secret_extra=None, allow_auth_bypass=False):
    """The full container environment, as strings, in a stable order."""
    gitlab_url = http_url("gitlab_url", gitlab_url)
    api_url = http_url("gitlab_api_url", gitlab_api_url) + "/" if gitlab_api_url else api_url_for(gitlab_url)
    env = {
        "AIGW_GITLAB_URL": gitlab_url,
        "AIGW_GITLAB_API_URL": api_url,
        "AIGW_CUSTOM_MODELS__ENABLED": as_env_value(bool(custom_models)),
        "DUO_WORKFLOW_AUTH__OIDC_GITLAB_URL": gitlab_url,
    }
    if host_network:
        # On the host network the metrics port would clash with anything else on 8082.
        env["AIGW_FASTAPI__METRICS_PORT"] = str(HOST_NETWORK_METRICS_PORT)
    if ca_bundle:
        env["SSL_CERT_FILE"] = CA_BUNDLE_IN_CONTAINER
        env["REQUESTS_CA_BUNDLE"] = CA_BUNDLE_IN_CONTAINER
    if airgapped:
        # An unreachable customers portal delays every request; an empty one crashes the workflow service.
        env["AIGW_CUSTOMER_PORTAL_URL"] = gitlab_url
        env["DUO_WORKFLOW_AUTH__OIDC_CUSTOMER_PORTAL_URL"] = gitlab_url
    for source in (extra or {}), (secret_extra or {}):
        for key, value in source.items():
            env[str(key)] = as_env_value(value)
    if is_true(env.get("AIGW_AUTH__BYPASS_EXTERNAL")) and not allow_auth_bypass:
        raise InputError("env.AIGW_AUTH__BYPASS_EXTERNAL", env["AIGW_AUTH__BYPASS_EXTERNAL"],
                         "turns off authentication: anyone who reaches the gateway can use your models",
                         "remove it; only the troubleshooting deep test may set it, with allow_auth_bypass=true")
    return dict(sorted(env.items()))


def api_port(env):
    value = env.get("AIGW_FASTAPI__API_PORT") or DEFAULT_API_PORT
    try:
        return int(value)
    except ValueError:
        raise InputError("env.AIGW_FASTAPI__API_PORT", value, "is not a port", "use a number from 1 to 65535")
