"""The one HTTP layer against real sockets on loopback: TLS/timeout settings, the mapping of requests' errors to a
DuoError that says what to fix, and probes with retries, deadlines and body expectations."""

import time

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils import _http
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.tests.unit import helpers
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import Answer, LoopbackHTTP


@pytest.fixture()
def silent_port():
    port, sock = helpers.silent_port()
    yield port
    sock.close()


@pytest.fixture()
def closed_port():
    return helpers.closed_port()


@pytest.mark.parametrize("validate_certs, ca_path, expected", [
    (True, None, True), (True, "/etc/ca.pem", "/etc/ca.pem"), (False, "/etc/ca.pem", False), (False, None, False)])
def test_verify_setting(validate_certs, ca_path, expected):
    assert _http.verify_setting(validate_certs, ca_path) == expected
    assert _http.Session(validate_certs, ca_path).verify == expected


def test_session_from_params_sends_headers_and_keeps_settings():
    with LoopbackHTTP({("GET", "/x"): Answer(200, "hello")}) as server:
        params = {"validate_certs": False, "ca_path": None, "timeout": 7}
        with _http.Session.from_params(params, headers={"X-Duo": "1"}) as session:
            assert (session.verify, session.timeout) == (False, 7)
            response = session.request("GET", server.url + "/x", "the test server")
    assert response.status_code == 200 and response.text == "hello"
    assert server.requests[0]["headers"]["X-Duo"] == "1"


def test_an_http_error_status_is_an_answer_not_an_exception():
    with LoopbackHTTP({("GET", "/boom"): Answer(500, "internal")}) as server:
        response = _http.Session().request("GET", server.url + "/boom", "the test server")
    assert response.status_code == 500


def test_connection_refused_names_target_url_and_fix(closed_port):
    url = "http://127.0.0.1:{0}/api".format(closed_port)
    with pytest.raises(DuoError) as info:
        _http.Session(timeout=2).request("GET", url, "GitLab at example")
    assert info.value.msg.startswith("Cannot reach GitLab at example ({0}): ConnectionError".format(url))
    assert "Fix: check the address, DNS, proxy settings (HTTPS_PROXY/NO_PROXY)" in info.value.msg
    assert info.value.details["reason"].startswith("ConnectionError")


def test_timeout_says_raise_timeout(silent_port):
    started = time.monotonic()
    with pytest.raises(DuoError) as info:
        _http.Session(timeout=0.3).request("GET", "http://127.0.0.1:{0}/".format(silent_port), "the gateway")
    assert time.monotonic() - started < 3
    assert "ReadTimeout" in info.value.msg and "or raise timeout" in info.value.msg


def test_tls_error_says_which_ca_to_trust():
    with LoopbackHTTP() as server:
        with pytest.raises(DuoError) as info:
            _http.Session(timeout=3).request("GET", server.url.replace("http:", "https:"), "the proxy")
    assert "TLS error" in info.value.msg and info.value.details["reason"].startswith("TLS error")
    assert "trust the server's CA (ca_path" in info.value.msg and "validate_certs=false only for a test" in info.value.msg


def test_a_ca_path_that_is_not_there_is_a_clear_error(tmp_path):
    with LoopbackHTTP() as server:
        with pytest.raises(DuoError) as info:
            _http.Session(ca_path=str(tmp_path / "missing-ca.pem"), timeout=3).request(
                "GET", server.url.replace("http:", "https:"), "the registry")
    assert "missing-ca.pem" in info.value.msg and "the registry" in info.value.msg
    assert "Fix: give ca_path as the path of a CA file (PEM)" in info.value.msg


def test_probe_once_status_and_body_expectations():
    routes = {("GET", "/ok"): Answer(200, "all good"), ("GET", "/moved"): Answer(302, "", {"Location": "/ok"}),
              ("GET", "/long"): Answer(200, "x" * 1000)}
    with LoopbackHTTP(routes) as server, _http.Session(timeout=3) as session:
        good = _http.probe_once(session, server.url + "/ok", 200, "good")
        wrong_body = _http.probe_once(session, server.url + "/ok", 200, "bad")
        moved = _http.probe_once(session, server.url + "/moved")
        long_body = _http.probe_once(session, server.url + "/long")
    assert good["ok"] and good["status"] == 200 and good["error"] is None and good["elapsed_ms"] >= 0
    assert not wrong_body["ok"] and wrong_body["error"] == "answer does not contain 'bad'"
    assert not moved["ok"] and moved["status"] == 302 and moved["error"] == "HTTP 302, expected 200"
    assert len(long_body["body"]) == _http.BODY_EXCERPT


def test_probe_once_reports_network_errors_without_raising(closed_port):
    with _http.Session(timeout=2) as session:
        result = _http.probe_once(session, "http://127.0.0.1:{0}/".format(closed_port))
    assert result["ok"] is False and result["status"] is None and result["error"].startswith("ConnectionError")


def test_probe_retries_until_it_passes():
    answers = [Answer(503, "starting"), Answer(503, "starting"), Answer(200, "up")]
    with LoopbackHTTP({("GET", "/h"): lambda request: answers.pop(0)}) as server:
        result = _http.probe(server.url + "/h", retries=5, delay=0.01, timeout=2)
    assert result["ok"] and result["attempts"] == 3 and len(server.requests) == 3


def test_probe_gives_up_after_retries():
    with LoopbackHTTP({("GET", "/h"): Answer(503, "down")}) as server:
        result = _http.probe(server.url + "/h", retries=2, delay=0.01, timeout=2)
    assert not result["ok"] and result["attempts"] == 3 and result["error"] == "HTTP 503, expected 200"


def test_probe_deadline_wins_over_retries():
    with LoopbackHTTP({("GET", "/h"): Answer(503, "down")}) as server:
        started = time.monotonic()
        result = _http.probe(server.url + "/h", retries=0, delay=0.05, timeout=2, deadline=started + 0.3)
    assert not result["ok"] and result["attempts"] > 1
    assert time.monotonic() - started < 1.5
