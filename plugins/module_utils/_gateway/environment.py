# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AI Gateway container's environment (private to gitlab_duo.self_hosted).

Derives the AIGW_* variables from a few facts (GitLab URL, network mode, CA bundle, air-gapped),
lets the caller add or override variables, refuses an authentication bypass outside
troubleshooting, and masks secrets wherever the environment is shown.
"""

from __future__ import annotations

import json

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import http_url

CA_BUNDLE_IN_CONTAINER = "/etc/ssl/certs/gitlab-duo-ca-bundle.pem"
DEFAULT_API_PORT = 5052
DEFAULT_METRICS_PORT = 8082
HOST_NETWORK_METRICS_PORT = 8083
REDACTED = "<redacted>"
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "EXTRA_HEADERS", "AUTHORIZATION")
# pydantic's boolean parsing (pydantic-core str_as_bool): these spellings, in any case, are true.
_TRUE = ("1", "true", "t", "yes", "y", "on")
# The gateway reads its settings with pydantic-settings (ai_gateway/config.py: env_prefix "AIGW_",
# env_nested_delimiter "__", case-insensitive names). Every switch of ConfigAuth weakens authentication:
# bypass_external, bypass_external_with_header, bypass_jwt_signature.
AUTH_PARENT = "AIGW_AUTH"
AUTH_BYPASS_PREFIX = "BYPASS_"
# ConfigFastApi (ai_gateway/config.py): api_host is the address ai_gateway/main.py run_app() hands to
# uvicorn.run(host=...), "0.0.0.0" unless AIGW_FASTAPI__API_HOST (or "api_host" in a JSON AIGW_FASTAPI) says otherwise.
FASTAPI_PARENT = "AIGW_FASTAPI"
DEFAULT_API_HOST = "0.0.0.0"


def is_true(value):
    """How the gateway (pydantic) reads a boolean: True, 1, or 1/true/t/yes/y/on in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    return str(value if value is not None else "").strip().lower() in _TRUE


def _json_object(value):
    """A parent setting's value as pydantic-settings reads it: a JSON object (its fields), else nothing ({})."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def auth_bypasses(env):
    """The (variable, value) pairs of ``env`` that switch an authentication bypass on, read as the gateway's
    pydantic-settings reads them: names in any case, ``AIGW_AUTH__BYPASS_*`` fields, and a JSON object in
    ``AIGW_AUTH`` whose ``bypass_*`` fields are set (a nested variable overrides the JSON field)."""
    nested, from_json = {}, {}
    for name, value in (env or {}).items():
        upper = str(name).upper()
        if upper == AUTH_PARENT:
            for key, item in _json_object(value).items():
                if str(key).upper().startswith(AUTH_BYPASS_PREFIX):
                    from_json.setdefault(str(key).upper(), []).append((str(name), json.dumps({str(key): item}), item))
        elif upper.startswith(AUTH_PARENT + "__" + AUTH_BYPASS_PREFIX):
            nested.setdefault(upper[len(AUTH_PARENT) + 2:], []).append((str(name), value, value))
    on = []
    for field in sorted(set(nested) | set(from_json)):
        # A nested variable overrides the parent's JSON field; two spellings of one name: either may win.
        for name, shown, value in nested.get(field) or from_json.get(field):
            if is_true(value):
                on.append((name, shown))
    return on


def setting_values(env, parent, field):
    """The values ``env`` gives the gateway's setting ``parent``.``field`` (e.g. AIGW_FASTAPI, API_HOST), read as
    pydantic-settings reads them: names in any case, ``PARENT__FIELD``, else the field of a JSON object in
    ``PARENT`` (a nested variable overrides it). Two spellings of one name: either may win, so both are returned;
    [] when the setting is not given (the gateway's default applies)."""
    nested, from_json = [], []
    for name, value in (env or {}).items():
        upper = str(name).upper()
        if upper == parent + "__" + field:
            nested.append(value)
        elif upper == parent:
            from_json.extend(item for key, item in _json_object(value).items() if str(key).upper() == field)
    return nested or from_json


def api_hosts(env):
    """The address(es) the gateway's API may bind (uvicorn's host): every spelling given, or its default."""
    return [str(value) for value in setting_values(env, FASTAPI_PARENT, "API_HOST")] or [DEFAULT_API_HOST]


def bypass_text(bypasses):
    return ", ".join("{0}={1}".format(name, value) for name, value in bypasses)


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
    for key in extra or {}:
        if is_secret_name(str(key)):
            raise InputError("env." + str(key), REDACTED, "looks like a secret, and env is shown in logs and "
                             "results (only secret_env is no_log)", "move it to secret_env")
    for source in (extra or {}), (secret_extra or {}):
        for key, value in source.items():
            env[str(key)] = as_env_value(value)
    bypasses = auth_bypasses(env)
    if bypasses and not allow_auth_bypass:
        name, value = bypasses[0]
        raise InputError("env." + name, value,
                         "turns off authentication (the gateway reads it as {0}): anyone who reaches the gateway "
                         "can use your models".format(bypass_text(bypasses)),
                         "remove it; only the troubleshooting deep test may set it, with allow_auth_bypass=true")
    return dict(sorted(env.items()))


def api_port(env):
    value = env.get("AIGW_FASTAPI__API_PORT") or DEFAULT_API_PORT
    try:
        return int(value)
    except ValueError:
        raise InputError("env.AIGW_FASTAPI__API_PORT", value, "is not a port", "use a number from 1 to 65535")
