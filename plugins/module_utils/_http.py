# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP(S) probes with retries (private to gitlab_duo.self_hosted).

One probe is one URL with an expected status (and optionally a body fragment); the result is a
plain dict that modules return and later roles and reports reuse.
"""

from __future__ import annotations

import socket
import ssl
import time
from urllib.parse import urlsplit

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils import _certificates

try:
    import requests
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_REQUESTS = False

BODY_EXCERPT = 300
UNAUTHENTICATED_ANSWER = "No authorization header presented"


def probe_once(url, expect_status=200, expect_body=None, timeout=5, verify=True, headers=None, session=None):
    """GET ``url`` once; return the probe result dict (never raises for network errors)."""
    getter = session or requests
    started = time.monotonic()
    result = {"url": url, "expect_status": expect_status, "ok": False, "status": None, "error": None, "body": None}
    try:
        response = getter.get(url, timeout=timeout, verify=verify, headers=headers or {}, allow_redirects=False)
    except requests.exceptions.SSLError as exc:
        result["error"] = "TLS error: {0}".format(exc)
    except requests.RequestException as exc:
        result["error"] = "{0}: {1}".format(type(exc).__name__, exc)
    else:
        result["status"] = response.status_code
        result["body"] = response.text[:BODY_EXCERPT]
        status_ok = response.status_code == expect_status
        body_ok = expect_body is None or expect_body in response.text
        result["ok"] = status_ok and body_ok
        if not status_ok:
            result["error"] = "HTTP {0}, expected {1}".format(response.status_code, expect_status)
        elif not body_ok:
            result["error"] = "answer does not contain {0!r}".format(expect_body)
    result["elapsed_ms"] = int((time.monotonic() - started) * 1000)
    return result


def probe(url, expect_status=200, expect_body=None, retries=0, delay=1.0, timeout=5, verify=True, headers=None,
          deadline=None):
    """Probe until it passes, ``retries`` more times or until ``deadline`` (monotonic seconds) passes."""
    attempts = 0
    with requests.Session() as session:
        while True:
            attempts += 1
            result = probe_once(url, expect_status, expect_body, timeout, verify, headers, session)
            out_of_time = deadline is not None and time.monotonic() + delay > deadline
            if result["ok"] or (deadline is None and attempts > retries) or out_of_time:
                result["attempts"] = attempts
                return result
            time.sleep(delay)


def gateway_health(base_url, deadline, delay=1.0, verify=True, expect_auth=True):
    """The gateway's two documented answers: /monitoring/healthz = 200 and the 401 root (unless authentication
    is bypassed for troubleshooting, when the root answers without it)."""
    base = base_url.rstrip("/")
    healthz = probe(base + "/monitoring/healthz", 200, deadline=deadline, delay=delay, verify=verify)
    if not healthz["ok"]:
        return healthz, None
    if not expect_auth:
        return healthz, dict(healthz, url=base + "/", ok=True, skipped="authentication is bypassed")
    root = probe(base + "/", 401, UNAUTHENTICATED_ANSWER, deadline=deadline, delay=delay, verify=verify)
    return healthz, root


def tls_details(url, ca_path=None, timeout=5):
    """The certificate a TLS server presents for ``url``'s host: verified against ``ca_path`` (or the system's
    CA store) with hostname check, plus names, expiry and days left. Never raises for network errors."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 443
    details = {"host": host, "port": port, "verified": False, "error": None}
    context = ssl.create_default_context(cafile=ca_path or None)
    der = None
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
                details.update(verified=True, protocol=tls.version())
    except ssl.SSLCertVerificationError as exc:
        details["error"] = "certificate not trusted: {0}".format(exc.verify_message)
        unverified = ssl._create_unverified_context()  # only to read what the server presents
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                with unverified.wrap_socket(sock, server_hostname=host) as tls:
                    der = tls.getpeercert(binary_form=True)
                    details["protocol"] = tls.version()
        except (OSError, ssl.SSLError):
            pass
    except (OSError, ssl.SSLError) as exc:
        details["error"] = "TLS connection failed: {0}".format(exc)
    if der and _certificates.HAS_CRYPTOGRAPHY:
        details.update(_certificates.describe(_certificates.load_certificate(ssl.DER_cert_to_PEM_cert(der))))
    return details
