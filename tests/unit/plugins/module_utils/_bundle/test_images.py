"""skopeo's side of the bundle: what a source names, the options skopeo is given (never a password), the auth file
that lives only in memory, and an archive written beside its final name so a failure leaves none half-made."""

import base64
import gzip
import io
import json
import os
import stat
import subprocess
import tarfile

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import images
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

CONFIG = "3ab657f73b6a1de336fbcd33c68316096b423aefed7910786e255b0121a39cad"


@pytest.mark.parametrize("source, expected", [
    ("registry.gitlab.com/a/b:1.0", dict(insecure=False, host="registry.gitlab.com", repository="a/b", tag="1.0")),
    ("http://127.0.0.1:5000/library/nginx:1.22-lab",
     dict(insecure=True, host="127.0.0.1:5000", repository="library/nginx", tag="1.22-lab")),
    ("https://localhost/x:y", dict(insecure=False, host="localhost", repository="x", tag="y")),
    ("nginx:1.27-alpine", dict(insecure=False, host="docker.io", repository="library/nginx", tag="1.27-alpine")),
    ("bitnami/nginx:1", dict(insecure=False, host="docker.io", repository="bitnami/nginx", tag="1")),
])
def test_parse_source(source, expected):
    parsed = images.parse_source(source)
    assert {key: parsed[key] for key in expected} == expected
    assert parsed["name"] == "{host}/{repository}:{tag}".format(**parsed)


@pytest.mark.parametrize("source", ["registry.gitlab.com/a/b", "ftp://r/a:1", "r/a@sha256:" + "a" * 64, "", "r/a:"])
def test_a_source_without_a_tag_or_with_another_scheme_is_refused(source):
    with pytest.raises(DuoError) as raised:
        images.parse_source(source)
    assert raised.value.msg.startswith("source=") and "Fix:" in raised.value.msg


def test_transport_and_platform_options():
    assert images.transport_options("src", False, "/dev/fd/5", "/tmp/ca") == [
        "--src-tls-verify=false", "--src-authfile=/dev/fd/5", "--src-cert-dir=/tmp/ca"]
    assert images.transport_options("") == ["--tls-verify=true"]
    assert images.platform_options("linux/arm64/v8") == ["--override-os", "linux", "--override-arch", "arm64",
                                                         "--override-variant", "v8"]
    assert images.platform_options(None) == []
    with pytest.raises(DuoError):
        images.platform_options("amd64")


def read_auth(path):
    with open(path) as handle:
        return json.load(handle)


def test_credentials_live_in_memory_and_a_child_reads_them_through_dev_fd():
    with images.registry_auth("r.example:5000", "builder", "pa:ss") as (path, fds):
        assert path == "/dev/fd/{0}".format(fds[0])
        # A child given the descriptor reads the auth file, as skopeo does (twice: each open starts at the top).
        for _time in range(2):
            shown = subprocess.run(["cat", path], pass_fds=fds, capture_output=True, check=True).stdout
            auth = json.loads(shown)["auths"]["r.example:5000"]["auth"]
            assert base64.b64decode(auth) == b"builder:pa:ss"
    with pytest.raises(OSError):
        os.fstat(fds[0])
    with images.registry_auth("r", None, None) as anonymous:
        assert anonymous == (None, ())


def test_without_memfd_the_auth_file_is_0600_and_removed(monkeypatch):
    monkeypatch.delattr(os, "memfd_create")
    with images.registry_auth("r.example", "builder", "secret") as (path, fds):
        assert fds == () and stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert read_auth(path)["auths"]["r.example"]["auth"] == base64.b64encode(b"builder:secret").decode()
    assert not os.path.exists(path)


def test_a_ca_file_becomes_a_cert_dir_for_the_run(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("PEM")
    with images.cert_dir(str(ca)) as folder:
        assert os.listdir(folder) == ["ca.crt"]
    assert not os.path.exists(folder)
    with images.cert_dir(None) as nothing:
        assert nothing is None
    with pytest.raises(DuoError) as raised:
        with images.cert_dir(str(tmp_path / "absent.pem")):
            pass
    assert raised.value.msg.startswith("ca_path=")


def docker_archive(path, config=CONFIG):
    """A one-image docker-archive, as skopeo writes it."""
    body = json.dumps([{"Config": config + ".json", "RepoTags": ["r/x:1"], "Layers": []}]).encode()
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        archive.addfile(info, io.BytesIO(body))


class Skopeo:
    """What skopeo answers: ``inspect --raw`` gives a manifest, ``copy`` writes a docker-archive (or fails)."""

    def __init__(self, fail_copy=False):
        self.calls, self.fail_copy = [], fail_copy

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        if argv[1] == "inspect":
            return subprocess.CompletedProcess(argv, 0, b'{"schemaVersion": 2}', b"")
        if self.fail_copy:
            docker_archive(argv[-1].split(":")[1])  # half written, then the failure
            return subprocess.CompletedProcess(argv, 1, b"", b"time=x level=fatal msg=\"connection reset\"\n")
        docker_archive(argv[-1].split(":")[1])
        return subprocess.CompletedProcess(argv, 0, b"", b"")


def test_fetch_copies_the_digest_read_and_renames_a_whole_archive(tmp_path):
    skopeo = Skopeo()
    target = str(tmp_path / "images" / "x_1.tar.gz")
    result = images.fetch_image("r.example/a/x:1", target, "internal/a/x:1", tls_verify=False, platform="linux/amd64",
                                runner=skopeo, digest="sha256:" + "d" * 64, pass_fds=(9,))
    assert result["image_id"] == "sha256:" + CONFIG and result["digest"] == "sha256:" + "d" * 64
    assert (result["sha256"], result["size"]) == images.sha256_file(target)
    argv, kwargs = skopeo.calls[0]
    assert argv[:2] == ["skopeo", "copy"] and kwargs["pass_fds"] == (9,) and len(skopeo.calls) == 1
    assert "docker://r.example/a/x@sha256:" + "d" * 64 in argv and "--src-tls-verify=false" in argv
    assert argv[-1] == "docker-archive:{0}.tar.partial:internal/a/x:1".format(target)
    assert os.listdir(str(tmp_path / "images")) == ["x_1.tar.gz"]
    with gzip.open(target) as unpacked:
        assert tarfile.open(fileobj=unpacked).getnames() == ["manifest.json"]
    again = images.fetch_image("r.example/a/x:1", target, "internal/a/x:1", runner=Skopeo(), digest=result["digest"])
    assert again["sha256"] == result["sha256"], "the same image gives the same archive bytes"


def test_without_a_digest_fetch_asks_the_registry_first(tmp_path):
    skopeo = Skopeo()
    result = images.fetch_image("r.example/a/x:1", str(tmp_path / "x.tar.gz"), "r.example/a/x:1", runner=skopeo)
    assert [call[0][1] for call in skopeo.calls] == ["inspect", "copy"]
    assert skopeo.calls[0][0][-1] == "docker://r.example/a/x:1"
    assert result["digest"] == images.registry_digest("r.example/a/x:1", runner=Skopeo())


def test_a_failed_copy_leaves_no_archive_and_no_partial(tmp_path):
    target = str(tmp_path / "x.tar.gz")
    with pytest.raises(DuoError) as raised:
        images.fetch_image("r.example/a/x:1", target, "r.example/a/x:1", runner=Skopeo(fail_copy=True),
                           digest="sha256:" + "d" * 64)
    assert raised.value.msg.startswith("copying r.example/a/x:1: time=x level=fatal")
    assert os.listdir(str(tmp_path)) == []


def test_skopeo_missing_says_how_to_install_it(tmp_path):
    def missing(argv, **kwargs):
        raise FileNotFoundError(argv[0])

    with pytest.raises(DuoError) as raised:
        images.registry_digest("r/a:1", runner=missing)
    assert "apt-get install skopeo" in raised.value.msg


def test_archive_image_id_refuses_anything_but_one_image(tmp_path):
    path = str(tmp_path / "two.tar")
    body = json.dumps([{"Config": "a.json"}, {"Config": "b.json"}]).encode()
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        archive.addfile(info, io.BytesIO(body))
    with pytest.raises(DuoError):
        images.archive_image_id(path)
