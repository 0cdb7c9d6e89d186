# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is the gateway up? Its two documented answers, and the probe service behind gateway_probe
(private to gitlab_duo.self_hosted).

``/monitoring/healthz`` answers 200, and the root answers 401 "No authorization header presented" (unless
authentication is bypassed for troubleshooting). Over HTTPS the certificate is checked too.
"""

from __future__ import annotations

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import probe
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.server_certificate import tls_details
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import http_url, number_in_range

UNAUTHENTICATED_ANSWER = "No authorization header presented"


def gateway_targets(base_url):
    """(url, status, body) of the gateway's two documented answers."""
    base = base_url.rstrip("/")
    return [(base + "/monitoring/healthz", 200, None), (base + "/", 401, UNAUTHENTICATED_ANSWER)]


def gateway_health(base_url, deadline, delay=1.0, expect_auth=True):
    """(healthz probe, root probe) until both pass or ``deadline``; the root probe is None when healthz failed
    and marked skipped when authentication is bypassed."""
    (healthz_url, healthz_status, _none), (root_url, root_status, root_body) = gateway_targets(base_url)
    healthz = probe(healthz_url, healthz_status, deadline=deadline, delay=delay)
    if not healthz["ok"]:
        return healthz, None
    if not expect_auth:
        return healthz, dict(healthz, url=root_url, ok=True, skipped="authentication is bypassed")
    return healthz, probe(root_url, root_status, root_body, deadline=deadline, delay=delay)


def describe(health):
    """The first failed step of a health result, as 'url: error'."""
    for step in ("healthz", "root"):
        result = health.get(step)
        if result and not result["ok"]:
            return "{0}: {1}".format(result["url"], result["error"])
    return "no answer"


def run(params):
    """The gateway_probe module's result: every probe, the TLS certificate over HTTPS, and the problems; DuoError
    (carrying the same result) when a probe failed and ``fail_on_error`` is set."""
    url = http_url("url", params["url"])
    number_in_range("retries", params["retries"], 0, 100, "attempts")
    number_in_range("delay", params["delay"], 0, 300)
    number_in_range("timeout", params["timeout"], 1, 3600)
    if params["kind"] == "gateway":
        targets = gateway_targets(url)
    else:
        targets = [(params["url"], params["expect_status"], params["expect_body"])]
    probes = [probe(target, status, body, params["retries"], params["delay"], params["timeout"],
                    params["validate_certs"], params["ca_path"], params["headers"]) for target, status, body in targets]
    problems = ["{0}: {1}".format(p["url"], p["error"]) for p in probes if not p["ok"]]
    result = dict(changed=False, probes=probes, label=params["label"], name=params["label"])
    if url.startswith("https://"):
        tls = tls_details(url, params["ca_path"] if params["validate_certs"] else None, params["timeout"])
        result["tls"] = tls
        if params["validate_certs"] and not tls["verified"]:
            problems.append("TLS: {0}".format(tls["error"]))
        elif tls.get("days_left") is not None and tls["days_left"] < params["min_days_left"]:
            problems.append("TLS: the certificate expires in {0} days ({1}); renew it (playbooks/renew.yml)".format(
                tls["days_left"], tls["not_after"]))
    result.update(ok=not problems, problems=problems)
    if problems and params["fail_on_error"]:
        raise DuoError("Probe {0}failed: {1}".format("'{0}' ".format(params["label"]) if params["label"] else "",
                                                     "; ".join(problems)), **result)
    return result
