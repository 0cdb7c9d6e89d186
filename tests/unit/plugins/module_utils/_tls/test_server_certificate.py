"""The certificate a TLS server presents, read as a client would: trusted with the right CA, untrusted but still
described, a name that does not match, and no TLS at all; never an exception."""

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.server_certificate import tls_details
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import LoopbackHTTP, closed_port, tls_files, tls_server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return tls_files(tmp_path_factory.mktemp("tls"), names=("127.0.0.1", "aigw.example.com"), days=20)


@pytest.fixture()
def server(certificate):
    with LoopbackHTTP(ssl_context=tls_server(*certificate)) as running:
        yield running


def test_trusted_with_the_ca_that_signed_it(server, certificate):
    details = tls_details(server.url + "/path", ca_path=certificate[0], timeout=3)
    assert (details["host"], details["port"], details["verified"], details["error"]) == (
        "127.0.0.1", server.port, True, None)
    assert details["protocol"].startswith("TLSv1.") and details["names"] == ["127.0.0.1", "aigw.example.com"]
    assert 18 <= details["days_left"] <= 20 and details["issuer"] == "CN=127.0.0.1"


def test_untrusted_is_still_described(server):
    details = tls_details(server.url, timeout=3)
    assert not details["verified"] and details["error"].startswith("certificate not trusted: self-signed certificate")
    assert details["names"] == ["127.0.0.1", "aigw.example.com"] and "not_after" in details


def test_a_name_the_certificate_lacks(server, certificate):
    details = tls_details("https://localhost:{0}".format(server.port), ca_path=certificate[0], timeout=3)
    assert not details["verified"] and "Hostname mismatch" in details["error"]


def test_no_tls_and_no_server():
    with LoopbackHTTP() as plain:
        details = tls_details(plain.url.replace("http:", "https:"), timeout=3)
    assert not details["verified"] and details["error"].startswith("TLS connection failed: ")
    assert "names" not in details
    port = closed_port()
    refused = tls_details("https://127.0.0.1:{0}".format(port), timeout=3)
    assert refused == {"host": "127.0.0.1", "port": port, "verified": False,
                       "error": refused["error"]} and "Connection refused" in refused["error"]
