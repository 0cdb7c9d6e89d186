# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP layer (private to gitlab_duo.self_hosted): the GitLab API client, the registry client and the
probes all go through ``Session``, which holds the TLS and timeout settings and maps ``requests`` errors to a
``DuoError`` that says what to fix.
"""

from __future__ import annotations

import time

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError

try:
    import requests
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_REQUESTS = False

# The options of every module that makes HTTP requests (doc fragment gitlab_duo.self_hosted.http_options).
VALIDATE_CERTS_OPTION = dict(type="bool", default=True)
CA_PATH_OPTION = dict(type="path")
TIMEOUT_OPTION = dict(type="int", default=30)
HTTP_OPTIONS = dict(validate_certs=VALIDATE_CERTS_OPTION, ca_path=CA_PATH_OPTION, timeout=TIMEOUT_OPTION)

BODY_EXCERPT = 300
MAX_TIMEOUT = 3600


def verify_setting(validate_certs=True, ca_path=None):
    """What ``requests`` takes as ``verify``: the CA bundle, True (the system's CAs) or False."""
    return (ca_path or True) if validate_certs else False


def reason(exc):
    """One line that says what went wrong with a request."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error: {0}".format(exc)
    return "{0}: {1}".format(type(exc).__name__, exc)


def fix_for(exc):
    if isinstance(exc, requests.exceptions.SSLError):
        return ("trust the server's CA (ca_path, or the CA bundle of this host) or fix its certificate; "
                "validate_certs=false only for a test")
    if isinstance(exc, requests.exceptions.Timeout):
        return "check that the server answers and that no proxy holds the request, or raise timeout"
    return "check the address, DNS, proxy settings (HTTPS_PROXY/NO_PROXY) and firewalls between this host and it"


class Session:
    """A ``requests`` session with the collection's TLS/timeout settings; ``request`` raises DuoError on network
    errors (an HTTP error status is an answer, for the caller to judge)."""

    def __init__(self, validate_certs=True, ca_path=None, timeout=30, headers=None, auth=None):
        if not HAS_REQUESTS:
            raise DuoError("The requests library for Python is missing on this host. Fix: pip install requests")
        self.verify = verify_setting(validate_certs, ca_path)
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers.update(headers or {})
        self._session.auth = auth

    @classmethod
    def from_params(cls, params, headers=None):
        """A session from a module's HTTP_OPTIONS (a timeout from 1 to 3600 seconds)."""
        if isinstance(params["timeout"], bool) or not 0 < (params["timeout"] or 0) <= MAX_TIMEOUT:
            raise InputError("timeout", params["timeout"], "is outside 1-{0} seconds".format(MAX_TIMEOUT),
                             "use a number of seconds from 1 to {0}".format(MAX_TIMEOUT))
        return cls(params["validate_certs"], params.get("ca_path"), params["timeout"], headers)

    def request(self, method, url, target, **kwargs):
        """The response; DuoError naming ``target`` (who should answer) when no answer comes."""
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        try:
            return self._session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise DuoError("Cannot reach {0} ({1}): {2}. Fix: {3}.".format(target, url, reason(exc), fix_for(exc)),
                           reason=reason(exc))
        except OSError as exc:  # requests' own check of the CA path: no such file (not a RequestException)
            raise DuoError("Cannot verify {0} ({1}): {2}. Fix: give ca_path as the path of a CA file (PEM) on the host "
                           "that runs this module.".format(target, url, exc), reason=str(exc))

    def close(self):
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def probe_once(session, url, expect_status=200, expect_body=None, headers=None):
    """GET ``url`` once; return the probe result dict (never raises for network errors)."""
    started = time.monotonic()
    result = {"url": url, "expect_status": expect_status, "ok": False, "status": None, "error": None, "body": None}
    try:
        response = session.request("GET", url, url, headers=headers or {}, allow_redirects=False)
    except DuoError as exc:
        result["error"] = exc.details["reason"]
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


def probe(url, expect_status=200, expect_body=None, retries=0, delay=1.0, timeout=5, validate_certs=True,
          ca_path=None, headers=None, deadline=None):
    """Probe until it passes, ``retries`` more times or until ``deadline`` (monotonic seconds) passes."""
    attempts = 0
    with Session(validate_certs, ca_path, timeout) as session:
        while True:
            attempts += 1
            result = probe_once(session, url, expect_status, expect_body, headers)
            out_of_time = deadline is not None and time.monotonic() + delay > deadline
            if result["ok"] or (deadline is None and attempts > retries) or out_of_time:
                result["attempts"] = attempts
                return result
            time.sleep(delay)
