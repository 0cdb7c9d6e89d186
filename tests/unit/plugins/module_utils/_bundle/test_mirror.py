"""The bundle_mirror service: target names, the private auth file and CA directory, archives checked before
anything is pushed, skopeo's answers turned into errors that say what to fix. Real skopeo against a real registry
with TLS and token auth: tests/lab/test_bundle_mirror.py."""

import base64
import gzip
import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import manifest, mirror
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError

REPOSITORY = "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
CONFIG = b'{"architecture":"amd64","config":{}}'
IMAGE_ID = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
PASSWORD = "pa55 w0rd:with-colon"


def docker_archive():
    """A one-image docker-archive, gzipped as the bundle stores it."""
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as archive:
        for name, data in ((IMAGE_ID[7:] + ".json", CONFIG),
                           ("manifest.json", json.dumps([{"Config": IMAGE_ID[7:] + ".json", "Layers": []}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(plain.getvalue(), mtime=0), plain.getvalue()


@pytest.fixture()
def bundle(tmp_path):
    directory = tmp_path / "bundle"
    (directory / "images").mkdir(parents=True)
    packed, plain = docker_archive()
    archive = manifest.archive_name(REPOSITORY, "self-hosted-v18.2.2-ee")
    (directory / archive).write_bytes(packed)
    image = {"role": "gateway", "reference": "registry.gitlab.com/" + REPOSITORY + ":self-hosted-v18.2.2-ee",
             "repository": REPOSITORY, "tag": "self-hosted-v18.2.2-ee", "image_id": IMAGE_ID, "archive": archive,
             "sha256": hashlib.sha256(packed).hexdigest(), "size": len(packed)}
    data = {"format": 1, "created": "2026-11-23T00:00:00Z", "collection": {}, "gitlab_versions": {},
            "images": [image], "files": manifest.file_entries(str(directory))}
    manifest.write(str(directory), data)
    return {"dir": str(directory), "image": image, "plain": plain}


class Skopeo:
    """Answers as skopeo 1.9 does (the lines recorded from it against docker-registry 2.8), recording each call and
    what the auth file and CA directory held while it ran."""

    def __init__(self, present=None, fail=None):
        self.present = dict(present or {})  # reference -> config bytes
        self.fail = fail
        self.calls = []
        self.seen = []

    def __call__(self, argv, **_kwargs):
        self.calls.append(argv)
        options = dict(item[2:].split("=", 1) for item in argv if item.startswith("--") and "=" in item)
        authfile = options.get("authfile") or options.get("dest-authfile")
        cert_dir = options.get("cert-dir") or options.get("dest-cert-dir")
        self.seen.append({"auth_mode": stat.S_IMODE(os.stat(authfile).st_mode) if authfile else None,
                          "auth": json.load(open(authfile)) if authfile else None,
                          "certs": sorted(os.listdir(cert_dir)) if cert_dir else None})
        if self.fail:
            return self.answer(1, stderr=self.fail)
        reference = argv[-1].split("://", 1)[1]
        if argv[1] == "inspect":
            if reference in self.present:
                return self.answer(0, self.present[reference])
            return self.answer(1, stderr='time="t" level=fatal msg="Error parsing image name \\"docker://{0}\\": '
                                         'reading manifest: manifest unknown: manifest unknown"'.format(reference))
        with tarfile.open(argv[-2].split(":", 1)[1]) as archive:
            config = json.loads(archive.extractfile("manifest.json").read())[0]["Config"]
            self.present[reference] = archive.extractfile(config).read()
        return self.answer(0)

    @staticmethod
    def answer(code, stdout=b"", stderr=""):
        return subprocess.CompletedProcess([], code, stdout, stderr.encode())

    def pushes(self):
        return [argv for argv in self.calls if argv[1] == "copy"]


def params(bundle_dir, **given):
    values = {"bundle_dir": bundle_dir, "mirror_registry": "mirror.example.com:5443", "repository_prefix": "",
              "registry_username": "duo-push", "registry_password": PASSWORD, "ca_path": None,
              "validate_certs": True, "tmp_dir": None}
    values.update(given)
    return values


# -- names ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix, expected", [
    ("", "mirror.example.com:5443/" + REPOSITORY + ":v1"),
    ("/duo/", "mirror.example.com:5443/duo/" + REPOSITORY + ":v1"),
    ("mirror/gitlab", "mirror.example.com:5443/mirror/gitlab/" + REPOSITORY + ":v1"),
])
def test_the_repository_path_is_kept_under_the_new_host(prefix, expected):
    assert mirror.target_reference("mirror.example.com:5443", mirror.check_prefix(prefix), REPOSITORY, "v1") == expected
    # A manifest may name the registry the image came from in its repository: that host is not carried over.
    assert mirror.target_reference("mirror.example.com:5443", mirror.check_prefix(prefix),
                                   "registry.gitlab.com/" + REPOSITORY, "v1") == expected


@pytest.mark.parametrize("prefix", ["Duo", "duo//x", "duo/-x", "a b", "duo/x:1"])
def test_a_prefix_that_is_no_repository_path_is_refused(prefix):
    with pytest.raises(InputError) as info:
        mirror.check_prefix(prefix)
    assert info.value.msg.startswith("repository_prefix=") and "Fix: use e.g. mirror/gitlab" in info.value.msg


@pytest.mark.parametrize("registry, validate_certs, expected", [
    ("mirror.example.com:5443", True, ("mirror.example.com:5443", True)),
    ("https://mirror.example.com/", True, ("mirror.example.com", True)),
    ("mirror.example.com:5443", False, ("mirror.example.com:5443", False)),
    ("http://10.0.0.5:5000", True, ("10.0.0.5:5000", False)),
])
def test_registry_host_and_tls(registry, validate_certs, expected):
    assert mirror.registry_host(registry, validate_certs) == expected


@pytest.mark.parametrize("registry", ["", "mirror.example.com/path"])
def test_a_registry_that_is_no_host_is_refused(registry):
    with pytest.raises(DuoError) as info:
        mirror.registry_host(registry)
    assert info.value.details["field"] in ("mirror_registry", "registry") and "Fix:" in info.value.msg


# -- the private auth file and CA directory -----------------------------------------------------------------

def test_credentials_live_in_a_0600_auth_file_that_is_removed_afterwards(tmp_path):
    ca = tmp_path / "org-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    (tmp_path / "org-ca.key").write_text("not for skopeo")
    with mirror.registry_access("mirror.example.com:5443", "duo-push", PASSWORD, str(ca)) as access:
        work = os.path.dirname(access["authfile"])
        assert stat.S_IMODE(os.stat(work).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(access["authfile"]).st_mode) == 0o600
        auth = json.load(open(access["authfile"]))["auths"]["mirror.example.com:5443"]["auth"]
        assert base64.b64decode(auth).decode() == "duo-push:" + PASSWORD
        assert os.listdir(access["cert_dir"]) == ["ca.crt"], "the CA alone: skopeo takes *.key beside it for a client key"
    assert not os.path.exists(work)


def test_the_auth_file_goes_also_when_the_run_fails():
    with pytest.raises(RuntimeError):
        with mirror.registry_access("mirror.example.com:5443", "duo-push", PASSWORD) as access:
            work = os.path.dirname(access["authfile"])
            raise RuntimeError("push failed")
    assert not os.path.exists(work)


def test_anonymous_without_a_user_and_a_missing_ca_is_refused_before_anything_is_written(tmp_path):
    with mirror.registry_access("mirror.example.com", None, None) as access:
        assert access == {"authfile": None, "cert_dir": None}
    with pytest.raises(InputError) as info:
        with mirror.registry_access("mirror.example.com", "u", "p", str(tmp_path / "nope.pem")):
            pass
    assert info.value.msg.startswith("ca_path=") and "is not a file on the host that pushes" in info.value.msg


# -- the archives ----------------------------------------------------------------------------------------------

def test_unpack_gives_the_docker_archive_that_was_checked(bundle, tmp_path):
    mirror.check_archive(bundle["dir"], bundle["image"])
    unpacked = mirror.unpack(bundle["dir"], bundle["image"], str(tmp_path))
    assert open(unpacked, "rb").read() == bundle["plain"]


def test_a_corrupted_archive_is_named_with_both_checksums(bundle):
    path = os.path.join(bundle["dir"], bundle["image"]["archive"])
    data = bytearray(open(path, "rb").read())
    data[20] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(DuoError) as info:
        mirror.check_archive(bundle["dir"], bundle["image"])
    assert bundle["image"]["archive"] in info.value.msg and "is corrupted" in info.value.msg
    assert bundle["image"]["sha256"] in info.value.msg and hashlib.sha256(data).hexdigest() in info.value.msg
    assert "nothing of it was pushed" in info.value.msg and info.value.details["archive"] == bundle["image"]["archive"]


def test_an_archive_changed_after_the_check_is_refused_while_unpacking(bundle, tmp_path):
    mirror.check_archive(bundle["dir"], bundle["image"])
    path = os.path.join(bundle["dir"], bundle["image"]["archive"])
    open(path, "ab").write(b"\0" * 16)  # trailing bytes gzip ignores: only the hash tells
    with pytest.raises(DuoError) as info:
        mirror.unpack(bundle["dir"], bundle["image"], str(tmp_path))
    assert "changed while it was read" in info.value.msg


def test_a_missing_archive_is_named(bundle):
    os.remove(os.path.join(bundle["dir"], bundle["image"]["archive"]))
    with pytest.raises(DuoError) as info:
        mirror.check_archive(bundle["dir"], bundle["image"])
    assert "is missing" in info.value.msg


# -- the service -----------------------------------------------------------------------------------------------

TARGET = "mirror.example.com:5443/" + REPOSITORY + ":self-hosted-v18.2.2-ee"


def test_push_then_nothing_on_a_rerun(bundle):
    skopeo = Skopeo()
    first = mirror.mirror(params(bundle["dir"]), runner=skopeo)
    assert first["changed"] and first["pushed"] == [TARGET]
    assert first["images"][0]["action"] == "pushed" and first["images"][0]["registry_image_id"] == IMAGE_ID
    assert first["diff"] == {"before": {TARGET: "absent"}, "after": {TARGET: IMAGE_ID}}
    push = skopeo.pushes()[0]
    assert push[:2] == ["skopeo", "copy"] and push[-1] == "docker://" + TARGET
    assert push[-2].startswith("docker-archive:") and push[-2].endswith("image.tar"), "unpacked: skopeo 1.9 reads no gzip"
    assert all(PASSWORD not in " ".join(argv) for argv in skopeo.calls)
    assert all(seen["auth_mode"] == 0o600 for seen in skopeo.seen)

    again = mirror.mirror(params(bundle["dir"]), runner=skopeo)
    assert not again["changed"] and again["pushed"] == [] and again["images"][0]["action"] == "present"
    assert len(skopeo.pushes()) == 1


def test_check_mode_says_what_it_would_push_and_pushes_nothing(bundle):
    skopeo = Skopeo()
    preview = mirror.mirror(params(bundle["dir"]), check_mode=True, runner=skopeo)
    assert preview["changed"] and preview["pushed"] == [TARGET] and preview["images"][0]["action"] == "push"
    assert skopeo.pushes() == []


def test_a_tag_holding_another_image_is_pushed_again(bundle):
    skopeo = Skopeo(present={TARGET: b'{"other": true}'})
    result = mirror.mirror(params(bundle["dir"]), runner=skopeo)
    assert result["changed"] and result["diff"]["before"][TARGET].startswith("sha256:")
    assert skopeo.present[TARGET] == CONFIG


def test_a_corrupted_archive_is_refused_before_anything_is_pushed(bundle):
    path = os.path.join(bundle["dir"], bundle["image"]["archive"])
    data = bytearray(open(path, "rb").read())
    data[-30] ^= 0x01
    open(path, "wb").write(bytes(data))
    skopeo = Skopeo()
    with pytest.raises(DuoError) as info:
        mirror.mirror(params(bundle["dir"]), check_mode=True, runner=skopeo)
    assert "is corrupted" in info.value.msg
    with pytest.raises(DuoError):
        mirror.mirror(params(bundle["dir"]), runner=skopeo)
    assert skopeo.pushes() == []


LINES = {
    "credentials": 'time="t" level=fatal msg="Error parsing image name \\"docker://x\\": unable to retrieve auth token: '
                   'invalid username/password: unauthorized"',
    "tls": 'time="t" level=fatal msg="pinging container registry mirror.example.com:5443: Get \\"https://mirror.example.'
           'com:5443/v2/\\": x509: certificate signed by unknown authority"',
    "http": 'time="t" level=fatal msg="pinging container registry x: Get \\"https://x/v2/\\": http: server gave HTTP '
            'response to HTTPS client"',
    "down": 'time="t" level=fatal msg="pinging container registry x: Get \\"https://x/v2/\\": dial tcp 10.0.0.5:5443: '
            'connect: connection refused"',
}


@pytest.mark.parametrize("kind, says, fix", [
    ("credentials", "the registry refused the credentials of user 'duo-push'",
     "check registry_username and registry_password (bundle_mirror_username / bundle_mirror_password) for "
     "mirror.example.com:5443"),
    ("tls", "the registry's TLS certificate is not trusted", "give the organisation's CA file in ca_path"),
    ("http", "the registry answers plain HTTP", "write the registry as http://mirror.example.com:5443"),
    ("down", "the registry does not answer", "check the address mirror.example.com:5443"),
])
def test_what_skopeo_says_becomes_the_fix(bundle, kind, says, fix):
    with pytest.raises(DuoError) as info:
        mirror.mirror(params(bundle["dir"]), runner=Skopeo(fail=LINES[kind]))
    message = info.value.msg
    assert message.startswith("Reading " + TARGET + ": " + says), message
    assert "Fix: " + fix in message and 'level=fatal' not in message
    assert info.value.details["registry"] == "mirror.example.com:5443"


def test_the_password_never_comes_back_in_a_message(bundle):
    token = base64.b64encode(("duo-push:" + PASSWORD).encode()).decode()
    line = 'time="t" level=fatal msg="odd answer for {0} and {1}"'.format(PASSWORD, token)
    with pytest.raises(DuoError) as info:
        mirror.mirror(params(bundle["dir"]), runner=Skopeo(fail=line))
    assert PASSWORD not in info.value.msg and token not in info.value.msg and "<redacted>" in info.value.msg


def test_no_skopeo_says_how_to_install_it(bundle):
    def missing(*_args, **_kwargs):
        raise FileNotFoundError("skopeo")
    with pytest.raises(DuoError) as info:
        mirror.mirror(params(bundle["dir"]), runner=missing)
    assert "apt-get install skopeo" in info.value.msg
