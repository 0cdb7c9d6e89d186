"""The gateway release and any image, read from a bundle's manifest on the control node: no registry call."""

import os

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import manifest
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.release import (
    image_in_bundle, release_from_bundle, resolve)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import module_params

REPOSITORY = "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
REFERENCE = "registry.gitlab.com/" + REPOSITORY + ":{0}"
NGINX = "docker.io/library/nginx:1.27-alpine"


def image(bundle, role, reference, tag, versions, content):
    archive = manifest.archive_name(reference.rsplit(":", 1)[0], tag)
    os.makedirs(os.path.join(bundle, "images"), exist_ok=True)
    with open(os.path.join(bundle, archive), "wb") as handle:
        handle.write(content)
    digest, size = manifest.sha256_file(os.path.join(bundle, archive))
    return {"role": role, "reference": reference, "source": reference, "repository": reference.rsplit(":", 1)[0],
            "tag": tag, "image_id": "sha256:" + (content.hex() * 64)[:64], "digest": "sha256:" + "0" * 64,
            "platform": "linux/amd64", "archive": archive, "sha256": digest, "size": size, "gitlab_versions": versions}


@pytest.fixture
def bundle(tmp_path):
    """GitLab 18.2.1 and 18.3.0 (two minors), and an NGINX image."""
    path = str(tmp_path / "bundle")
    images = [image(path, "gateway", REFERENCE.format("self-hosted-v18.2.10-ee"), "self-hosted-v18.2.10-ee",
                    ["18.2.1"], b"\x01"),
              image(path, "gateway", REFERENCE.format("self-hosted-v18.3.0-ee"), "self-hosted-v18.3.0-ee",
                    ["18.3.0"], b"\x02"),
              image(path, "proxy", NGINX, "1.27-alpine", [], b"\x03")]
    manifest.write(path, {"format": 1, "created": "2026-01-01T00:00:00Z",
                          "collection": {"name": "gitlab_duo.self_hosted", "version": "0.1.0"},
                          "gitlab_versions": {"18.2.1": "self-hosted-v18.2.10-ee", "18.3.0": "self-hosted-v18.3.0-ee"},
                          "images": images, "files": manifest.file_entries(path)})
    return path


def params(bundle, version, tag=None):
    return module_params("gateway_release", gitlab_version=version, bundle_dir=bundle, tag=tag)


def test_the_newest_tag_of_the_minor_from_the_manifest(bundle):
    found = release_from_bundle(params(bundle, "18.2.5-ee"))
    assert found["tag"] == "self-hosted-v18.2.10-ee"
    # A loaded image has no registry digest: the name the archive loads as is what the container runs.
    assert found["image"] == found["pinned_image"] == REFERENCE.format("self-hosted-v18.2.10-ee")
    assert found["digest"] is None
    assert found["image_id"] == "sha256:" + "01" * 32
    assert found["archive"] == os.path.join(bundle, "images", "model-gateway_self-hosted-v18.2.10-ee.tar.gz")
    assert os.path.isabs(found["archive"]) and os.path.isfile(found["archive"])
    assert (found["sha256"], found["size"]) == manifest.sha256_file(found["archive"])
    assert found["tags_seen"] == 2 and found["changed"] is False


def test_resolve_reads_the_bundle_and_asks_no_registry(bundle):
    # The registry option points nowhere that answers: the bundle is all that is read.
    found = resolve(module_params("gateway_release", gitlab_version="18.3.0", bundle_dir=bundle,
                                  registry="http://127.0.0.1:9"))
    assert found["tag"] == "self-hosted-v18.3.0-ee"


def test_a_version_the_bundle_does_not_cover_names_what_it_covers_and_the_fix(bundle):
    with pytest.raises(DuoError) as info:
        release_from_bundle(params(bundle, "18.4.0-ee"))
    message = info.value.msg
    assert "GitLab 18.4.0" in message and "self-hosted-v18.4.*-ee" in message
    assert "18.2.1 (self-hosted-v18.2.10-ee), 18.3.0 (self-hosted-v18.3.0-ee)" in message
    assert "bundle_gitlab_versions=[18.2.1,18.3.0,18.4.0]" in message
    assert info.value.details["covered"] == {"18.2.1": "self-hosted-v18.2.10-ee", "18.3.0": "self-hosted-v18.3.0-ee"}


def test_a_pin_must_be_in_the_bundle(bundle):
    assert release_from_bundle(params(bundle, "18.3.0", tag="self-hosted-v18.3.0-ee"))["tag"] == "self-hosted-v18.3.0-ee"
    with pytest.raises(DuoError) as info:
        release_from_bundle(params(bundle, "18.2.1", tag="self-hosted-v18.2.9-ee"))
    assert "self-hosted-v18.2.9-ee" in info.value.msg and "18.2.1 (self-hosted-v18.2.10-ee)" in info.value.msg
    assert "pin a tag the bundle holds (self-hosted-v18.2.10-ee, self-hosted-v18.3.0-ee)" in info.value.msg
    # The registry's rules come first: another minor, or a moving tag, is refused as such.
    with pytest.raises(InputError) as info:
        release_from_bundle(params(bundle, "18.2.1", tag="self-hosted-v18.3.0-ee"))
    assert "does not match GitLab 18.2.1" in info.value.msg
    with pytest.raises(InputError):
        release_from_bundle(params(bundle, "18.2.1", tag="nightly"))


def test_not_a_bundle(tmp_path):
    with pytest.raises(DuoError) as info:
        release_from_bundle(params(str(tmp_path), "18.2.1"))
    assert "no manifest.json" in info.value.msg and info.value.details["field"] == "bundle"


def test_the_proxy_image_by_reference(bundle):
    found = image_in_bundle(bundle, "proxy", reference=NGINX)
    assert found["image"] == found["reference"] == NGINX
    assert found["archive"] == os.path.join(bundle, found["archive_in_bundle"])
    with pytest.raises(DuoError) as info:
        image_in_bundle(bundle, "proxy", reference="docker.io/library/nginx:1.29")
    assert "has no proxy image docker.io/library/nginx:1.29; it holds " + NGINX in info.value.msg
    assert "tls_proxy_image" in info.value.msg
