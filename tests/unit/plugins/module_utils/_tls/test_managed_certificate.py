"""The proxy's certificate kept current, end to end on a temporary directory: self-signed for a lab and provided
by the operator; issued, left alone on a rerun, renewed when due, refused when the pair does not match. The
private key never appears in a result."""

import os
import stat

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls import certificates as certs
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.managed_certificate import ensure
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import module_params

DOMAIN = "aigw.example.com"


def params(cert_dir, **given):
    return module_params("tls_certificate", {"domains": [DOMAIN], "cert_dir": str(cert_dir)}, **given)


def lab(cert_dir, **given):
    return params(cert_dir, mode="self_signed_lab", **given)


@pytest.fixture(scope="module")
def pair():
    key = certs.new_private_key_pem()
    return certs.self_signed([DOMAIN, "10.0.0.5"], key), key


def files(cert_dir):
    """The files a server reads (the versions directory and the live link behind them left aside)."""
    return sorted(name for name in os.listdir(cert_dir) if name not in (".versions", "live")) \
        if os.path.isdir(cert_dir) else []


def test_self_signed_check_mode_writes_nothing(tmp_path):
    result = ensure(lab(tmp_path / "certs"), check_mode=True)
    assert result["changed"] and result["action"] == "issued" and result["previous"] == {}
    assert result["diff"] == {"before": {}, "after": {"names": [DOMAIN], "not_after": "(new)", "issuer": "(new)",
                                                      "serial": "(new)"}}
    assert files(tmp_path / "certs") == []


def test_self_signed_issue_then_nothing_then_renew_when_due(tmp_path):
    cert_dir = tmp_path / "certs"
    issued = ensure(lab(cert_dir))
    assert issued["changed"] and issued["action"] == "issued"
    assert issued["certificate"]["names"] == [DOMAIN] and issued["certificate"]["issuer"] == "CN=" + DOMAIN
    assert files(cert_dir) == ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]
    assert stat.S_IMODE(os.stat(cert_dir / "privkey.pem").st_mode) == 0o600
    assert issued["paths"]["key"] == str(cert_dir / "privkey.pem")

    again = ensure(lab(cert_dir))
    assert not again["changed"] and again["action"] == "none"
    assert again["diff"]["before"] == again["diff"]["after"] and again["certificate"]["serial"] == \
        issued["certificate"]["serial"]
    key_before = (cert_dir / "privkey.pem").read_text()

    renewed = ensure(lab(cert_dir, renew_before_days=100))
    assert renewed["changed"] and renewed["action"] == "renewed"
    assert renewed["previous"]["serial"] == issued["certificate"]["serial"] != renewed["certificate"]["serial"]
    assert (cert_dir / "privkey.pem").read_text() != key_before
    assert "PRIVATE KEY" not in repr([issued, again, renewed])


def test_self_signed_renews_for_a_new_name_or_when_forced(tmp_path):
    ensure(lab(tmp_path))
    grown = ensure(params(tmp_path, mode="self_signed_lab", domains=[DOMAIN, "eu." + DOMAIN]))
    assert grown["action"] == "renewed" and grown["certificate"]["names"] == [DOMAIN, "eu." + DOMAIN]
    forced = ensure(params(tmp_path, mode="self_signed_lab", domains=[DOMAIN, "eu." + DOMAIN], force=True))
    assert forced["changed"] and forced["certificate"]["serial"] != grown["certificate"]["serial"]


def test_provided_pair_installed_once(tmp_path, pair):
    certificate, key = pair
    checked = ensure(params(tmp_path, mode="provided", certificate=certificate, private_key=key), check_mode=True)
    assert checked["changed"] and checked["action"] == "installed" and files(tmp_path) == []
    installed = ensure(params(tmp_path, mode="provided", certificate=certificate, private_key=key))
    assert installed["changed"] and installed["certificate"]["names"] == ["10.0.0.5", DOMAIN]
    assert (tmp_path / "fullchain.pem").read_text() == certificate and (tmp_path / "chain.pem").read_text() == ""
    again = ensure(params(tmp_path, mode="provided", certificate=certificate, private_key="\n" + key + "\n"))
    assert not again["changed"] and again["action"] == "none"
    assert key not in repr([checked, installed, again])


def test_provided_pair_replaces_a_different_one(tmp_path, pair):
    ensure(lab(tmp_path))
    certificate, key = pair
    result = ensure(params(tmp_path, mode="provided", certificate=certificate, private_key=key))
    assert result["changed"] and result["previous"]["issuer"] == "CN=" + DOMAIN
    assert (tmp_path / "privkey.pem").read_text() == key


def test_mismatched_pair_is_refused_and_nothing_is_written(tmp_path, pair):
    certificate, _key = pair
    other_key = certs.new_private_key_pem()
    with pytest.raises(InputError) as info:
        ensure(params(tmp_path, mode="provided", certificate=certificate, private_key=other_key))
    assert info.value.msg.startswith("key='<private key>': does not match the certificate for 10.0.0.5, " + DOMAIN)
    assert "give the key the certificate was issued for" in info.value.msg and other_key not in info.value.msg
    assert files(tmp_path) == []


def test_provided_certificate_must_cover_the_domains(tmp_path, pair):
    certificate, key = pair
    with pytest.raises(InputError) as info:
        ensure(params(tmp_path, mode="provided", domains=["other.example.com"], certificate=certificate,
                      private_key=key))
    assert "does not cover other.example.com" in info.value.msg and files(tmp_path) == []


@pytest.mark.parametrize("given, field, words", [
    ({"mode": "provided"}, "certificate", "is required for mode=provided"),
    ({"mode": "acme"}, "webroot", "give the directory NGINX serves at /.well-known/acme-challenge/"),
    ({"mode": "acme", "webroot": "/srv/www", "acme_directory": "acme.internal"}, "acme_directory",
     "https://acme.internal.example.com/directory"),
    ({"mode": "acme", "webroot": "/srv/www", "domains": ["*.example.com"]}, "domains", "HTTP-01 cannot validate"),
    ({"mode": "self_signed_lab", "domains": ["https://aigw.example.com/"]}, "domains", "give the name alone"),
])
def test_bad_input_is_refused_before_anything_changes(tmp_path, given, field, words):
    with pytest.raises(InputError) as info:
        ensure(params(tmp_path, **given))
    assert info.value.msg.startswith(field + "=") and words in info.value.msg and files(tmp_path) == []
