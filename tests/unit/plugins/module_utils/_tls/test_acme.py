"""ACME without a CA: directory presets and validation, the CA's problems as users read them, the account key kept
once and 0600, and a refused or unreachable CA leaving no new account key behind."""

import os
import stat

import pytest
from acme import challenges, errors, messages

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls import acme
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import Answer, LoopbackHTTP

KEY_PEM = "-----BEGIN PRIVATE KEY-----\nnot used\n-----END PRIVATE KEY-----\n"


@pytest.fixture(scope="module")
def rsa_pem():
    return acme.new_private_key_pem("rsa")


@pytest.fixture(autouse=True)
def one_rsa_key(monkeypatch, rsa_pem):
    """Making RSA keys is slow: every account key these tests create is this one."""
    monkeypatch.setattr(acme, "new_private_key_pem", lambda kind: rsa_pem)


def test_directory_presets_and_urls():
    assert acme.directory_url("letsencrypt") == "https://acme-v02.api.letsencrypt.org/directory"
    assert acme.directory_url("letsencrypt_staging") == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert acme.directory_url("https://acme.internal.example.com/directory/") == \
        "https://acme.internal.example.com/directory"


@pytest.mark.parametrize("value", ["letsencrypt-prod", "ftp://acme.example.com/dir", "", None])
def test_bad_directory_names_the_field_and_an_example(value):
    with pytest.raises(InputError) as info:
        acme.directory_url(value)
    assert info.value.msg.startswith("acme_directory={0!r}: not an absolute http:// or https:// URL".format(value))
    assert "https://acme.internal.example.com/directory" in info.value.msg


def test_account_key_is_created_once_0600_and_reused(tmp_path):
    path = str(tmp_path / "acme" / "account.pem")
    checked, created = acme.account_key(path, check_mode=True)
    assert created and checked.key is not None and not os.path.exists(path)
    key, created = acme.account_key(path)
    assert created and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    again, created = acme.account_key(path)
    assert not created and again.thumbprint() == key.thumbprint()
    with open(path) as handle:
        assert acme.load_private_key(handle.read()) is not None


def test_unreadable_account_key_is_refused_by_name(tmp_path):
    path = tmp_path / "account.pem"
    path.write_text("garbage")
    with pytest.raises(InputError) as info:
        acme.account_key(str(path))
    assert info.value.msg.startswith("acme_account_key='<private key>': is not a readable, unencrypted PEM")
    assert path.read_text() == "garbage"


def test_problem_quotes_the_ca():
    limited = messages.Error.with_code("rateLimited", detail="too many certificates already issued")
    assert acme.problem(limited) == "urn:ietf:params:acme:error:rateLimited: too many certificates already issued"
    failed = messages.ChallengeBody(chall=challenges.HTTP01(token=b"t" * 16), status=messages.STATUS_INVALID,
                                    error=messages.Error.with_code("unauthorized", detail="Invalid response: 404"))
    authz = messages.AuthorizationResource(uri="https://ca/authz/1", body=messages.Authorization(
        identifier=messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="aigw.example.com"), challenges=[failed],
        status=messages.STATUS_INVALID))
    assert acme.problem(errors.ValidationError([authz])) == \
        "aigw.example.com (http-01): urn:ietf:params:acme:error:unauthorized: Invalid response: 404"
    assert acme.problem(errors.TimeoutError("order not ready")) == "TimeoutError: order not ready"


def test_unreachable_ca_leaves_no_new_account_key(tmp_path):
    path = str(tmp_path / "account.pem")
    with pytest.raises(DuoError) as info:
        acme.issue_with_account(path, "http://127.0.0.1:9/directory", ["aigw.example.com"], KEY_PEM,
                                str(tmp_path / "webroot"))
    assert info.value.msg.startswith("Cannot read the ACME directory http://127.0.0.1:9/directory: ")
    assert "Fix: check acme_directory, the network and acme_ca_bundle" in info.value.msg
    assert not os.path.exists(path) and not os.path.exists(str(tmp_path / "webroot"))


def test_an_existing_account_key_is_kept_when_the_ca_fails(tmp_path):
    path = str(tmp_path / "account.pem")
    key, _created = acme.account_key(path)
    with pytest.raises(DuoError):
        acme.issue_with_account(path, "http://127.0.0.1:9/directory", ["aigw.example.com"], KEY_PEM, str(tmp_path))
    assert acme.account_key(path)[0].thumbprint() == key.thumbprint()


def test_ca_that_requires_external_account_binding(tmp_path):
    directory = {"newNonce": "/nonce", "newAccount": "/account", "newOrder": "/order", "revokeCert": "/revoke",
                 "keyChange": "/key", "meta": {"externalAccountRequired": True}}
    path = str(tmp_path / "account.pem")
    with LoopbackHTTP({("GET", "/directory"): Answer(200, directory)}) as server:
        with pytest.raises(InputError) as info:
            acme.issue_with_account(path, server.url + "/directory", ["aigw.example.com"], KEY_PEM, str(tmp_path))
    assert info.value.msg.startswith("acme_eab_kid=None: is required by this CA (externalAccountRequired)")
    assert "give acme_eab_kid and acme_eab_hmac_key" in info.value.msg
    assert not os.path.exists(path)


def test_a_directory_that_is_not_json(tmp_path):
    with LoopbackHTTP({("GET", "/directory"): Answer(200, "<html>proxy login</html>")}) as server:
        with pytest.raises(DuoError) as info:
            acme.issue_with_account(str(tmp_path / "a.pem"), server.url + "/directory", ["aigw.example.com"],
                                    KEY_PEM, str(tmp_path))
    assert info.value.msg.startswith("Cannot read the ACME directory {0}/directory".format(server.url))
