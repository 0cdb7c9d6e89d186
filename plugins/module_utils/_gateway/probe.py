# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is the gateway up? Its two documented answers, and the probe service behind gateway_probe
(private to gitlab_duo.self_hosted).

``/monitoring/healthz`` answers 200, and the root answers 401 "No authorization header presented" (unless
authentication is bypassed for troubleshooting). Over HTTPS the certificate is checked too.
"""

from __future__ import annotations

import time

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


def http_get_command(url):
    """GET ``url`` from inside a container (busybox in the lab's stand-in, a full shell in the real image): the body
    and exit 0 for a 2xx/3xx answer, ``server returned error: HTTP <status>`` and exit 1 for an error status."""
    # busybox wget's own -T crashes under some sandboxes: bound it with timeout(1) instead. Without wget (the
    # real image), Python's http.client; an HTTP error status prints like wget's.
    fallback = ("import sys,urllib.parse as p,http.client as h;u=p.urlsplit(sys.argv[1]);"
                "c=(h.HTTPSConnection if u.scheme=='https' else h.HTTPConnection)(u.hostname,u.port,timeout=5);"
                "c.request('GET',u.path or '/');r=c.getresponse();"
                "print('server returned error: HTTP %d' % r.status if r.status>=400 else r.read()[:200].decode());"
                "sys.exit(r.status>=400)")
    script = ('if command -v wget >/dev/null 2>&1; then timeout 10 wget -q -O - "$0" 2>&1; '
              'else python3 -c "$1" "$0" 2>&1; fi')
    return ["sh", "-c", script, url, fallback]


def _inside_probe(run, url, expect_status):
    code, output = run(http_get_command(url))
    output = (output or "").strip()
    if expect_status == 200:
        ok = code == 0
    else:  # busybox wget: "server returned error: HTTP/1.1 401 Unauthorized"; http.client: "... HTTP 401"
        ok = code not in (0, None) and "server returned error" in output and " {0}".format(expect_status) in output
    error = None if ok else "inside the container: exit code {0}: {1}".format(code, output[:300] or "(no output)")
    return {"url": url, "expect_status": expect_status, "ok": ok, "inside_container": True, "body": output[:300],
            "error": error}


def inside_health(run, base, deadline, delay=0.5, expect_auth=True, clock=time.monotonic, sleep=time.sleep):
    """(healthz probe, root probe) like ``gateway_health``, asked at ``base`` (``http://127.0.0.1:5052``) from inside
    the gateway's container: ``run(argv) -> (exit code or None, output)`` executes there (docker exec). For a
    gateway that binds loopback in a network namespace of its own (AIGW_FASTAPI__API_HOST=127.0.0.1), which nothing
    outside reaches."""
    while True:
        healthz = _inside_probe(run, base + "/monitoring/healthz", 200)
        if healthz["ok"] or clock() + delay > deadline:
            break
        sleep(delay)
    if not healthz["ok"]:
        return healthz, None
    if not expect_auth:
        return healthz, dict(healthz, url=base + "/", ok=True, skipped="authentication is bypassed")
    return healthz, _inside_probe(run, base + "/", 401)


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
