import datetime
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls import certificates as certs
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError

NOW = datetime.datetime.now(datetime.timezone.utc)


def key():
    return ec.generate_private_key(ec.SECP256R1())


def pem_key(private):
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()


def issue(subject_cn, public, signer, issuer_cn, names=(), days=90, start=None, ca=False):
    start = start or NOW - datetime.timedelta(days=1)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
               .public_key(public).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days)))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def chain():
    root_key, inter_key, leaf_key = key(), key(), key()
    inter = issue("Test Intermediate", inter_key.public_key(), root_key, "Test Root", ca=True)
    leaf = issue("aigw.example.com", leaf_key.public_key(), inter_key, "Test Intermediate",
                 names=["aigw.example.com", "*.aigw.example.com"])
    return {"leaf": leaf, "inter": inter, "leaf_key": pem_key(leaf_key), "inter_key": inter_key}


def test_good_pair_and_wildcard_coverage(chain):
    info = certs.check_pair(chain["leaf"] + chain["inter"], chain["leaf_key"],
                            ["aigw.example.com", "eu.aigw.example.com"])
    assert info["names"] == ["*.aigw.example.com", "aigw.example.com"] and 85 <= info["days_left"] <= 90
    with pytest.raises(InputError) as error:
        certs.check_pair(chain["leaf"], chain["leaf_key"], ["a.b.aigw.example.com"])
    assert "does not cover a.b.aigw.example.com" in error.value.msg


def test_chain_out_of_order(chain):
    with pytest.raises(InputError) as error:
        certs.check_pair(chain["leaf"] + chain["inter"] + chain["leaf"], chain["leaf_key"], ["aigw.example.com"])
    assert "out of order" in error.value.msg and "leaf first" in error.value.msg


def test_expired(chain):
    old_key = key()
    expired = issue("aigw.example.com", old_key.public_key(), chain["inter_key"], "Test Intermediate",
                    names=["aigw.example.com"], days=30, start=NOW - datetime.timedelta(days=60))
    with pytest.raises(InputError) as error:
        certs.check_pair(expired, pem_key(old_key), ["aigw.example.com"])
    assert "expired on" in error.value.msg and "renew it" in error.value.msg


def test_unreadable_key(chain):
    with pytest.raises(InputError) as error:
        certs.check_pair(chain["leaf"], "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
                         ["aigw.example.com"])
    assert "key='<private key>'" in error.value.msg and "unencrypted PEM" in error.value.msg


@pytest.mark.parametrize("domain, words", [
    ("https://aigw.example.com/", "is a URL"), ("*.example.com", "wildcard"), ("bad_name.example.com", "valid DNS"),
])
def test_check_domains(domain, words):
    with pytest.raises(InputError) as error:
        certs.check_domains([domain], "http-01")
    assert words in error.value.msg
    assert certs.check_domains(["AIGW.Example.com."]) == ["aigw.example.com"]


def test_install_and_renewal_due(tmp_path, chain):
    directory = str(tmp_path / "certs")
    certs.install(directory, chain["leaf"] + chain["inter"], chain["leaf_key"])
    assert stat.S_IMODE(os.stat(os.path.join(directory, certs.PRIVKEY)).st_mode) == 0o600
    assert open(os.path.join(directory, certs.CHAIN)).read() == chain["inter"]
    current = certs.installed(directory)
    assert certs.still_good(current, ["aigw.example.com"], 30)
    assert not certs.still_good(current, ["aigw.example.com"], 100)
    assert not certs.still_good(current, ["other.example.com"], 30)
    assert not [name for name in os.listdir(directory) if name.endswith(".new")]


def lab_params(cert_dir):
    return {"domains": ["aigw.example.com"], "mode": "self_signed_lab", "cert_dir": cert_dir, "renew_before_days": 30,
            "force": False, "key_type": "ec", "webroot": None, "acme_directory": "letsencrypt", "acme_email": None,
            "acme_account_key": None, "acme_eab_kid": None, "acme_eab_hmac_key": None, "acme_ca_bundle": None,
            "acme_timeout": 120, "certificate": None, "chain": None, "private_key": None}


def test_a_key_that_does_not_match_is_never_current(tmp_path, chain):
    from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.managed_certificate import ensure
    directory = str(tmp_path / "certs")
    certs.install(directory, chain["leaf"] + chain["inter"], pem_key(key()))  # a certificate with another key
    current = certs.installed(directory)
    assert current["key_matches"] is False
    assert not certs.still_good(current, ["aigw.example.com"], 30)
    result = ensure(lab_params(directory))
    assert result["changed"] and "does not match" in result["reason"]
    assert certs.installed(directory)["key_matches"] is True
    assert not ensure(lab_params(directory))["changed"]


def test_the_four_files_are_swapped_at_once(tmp_path, chain):
    directory = str(tmp_path / "certs")
    os.makedirs(directory)
    for name in (certs.FULLCHAIN, certs.PRIVKEY, certs.CERT, certs.CHAIN):  # the layout before: regular files
        (tmp_path / "certs" / name).write_text("old")
    for _round in range(3):
        certs.install(directory, chain["leaf"] + chain["inter"], chain["leaf_key"])
    targets = {os.path.realpath(os.path.join(directory, name)).rsplit("/", 1)[0]
               for name in (certs.FULLCHAIN, certs.PRIVKEY, certs.CERT, certs.CHAIN)}
    assert len(targets) == 1 and all(os.path.islink(os.path.join(directory, name)) for name in certs.MODES)
    assert os.readlink(os.path.join(directory, certs.PRIVKEY)) == os.path.join(certs.LIVE, certs.PRIVKEY)
    assert len(os.listdir(os.path.join(directory, certs.VERSIONS))) == certs.KEEP_VERSIONS
    assert certs.installed(directory)["key_matches"]


def test_staging_never_follows_a_planted_symlink(tmp_path, chain):
    directory = tmp_path / "certs"
    directory.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    for name in certs.MODES:
        os.symlink(str(victim), str(directory / (name + ".new")))
    certs.install(str(directory), chain["leaf"] + chain["inter"], chain["leaf_key"])
    assert certs.stage(str(directory / "x.pem"), "secret", 0o600) == str(directory / "x.pem.new")
    assert victim.read_text() == "keep me"
    assert stat.S_IMODE(os.lstat(str(directory / "x.pem.new")).st_mode) == 0o600
    with pytest.raises(FileExistsError):
        certs.create_new(str(directory / "x.pem.new"), "again", 0o600)


def test_modes_are_enforced_on_every_run(tmp_path):
    from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.managed_certificate import ensure
    directory = str(tmp_path / "certs")
    old = os.umask(0o000)
    try:
        ensure(lab_params(directory))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(os.path.join(directory, certs.PRIVKEY)).st_mode) == 0o600
    os.chmod(os.path.join(directory, certs.PRIVKEY), 0o644)
    assert ensure(lab_params(directory), check_mode=True)["modes_fixed"] == [certs.PRIVKEY]
    assert stat.S_IMODE(os.stat(os.path.join(directory, certs.PRIVKEY)).st_mode) == 0o644
    result = ensure(lab_params(directory))
    assert result["changed"] and result["modes_fixed"] == [certs.PRIVKEY]
    assert stat.S_IMODE(os.stat(os.path.join(directory, certs.PRIVKEY)).st_mode) == 0o600
