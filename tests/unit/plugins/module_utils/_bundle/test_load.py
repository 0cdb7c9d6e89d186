"""gateway_image's checks that need no Docker engine: inputs refused before the engine is asked, the archive's
checksum (a damaged one is removed and nothing is loaded), the room where it is staged. Loading is tested on the
real engine (tests/lab/test_gateway_image.py)."""

import hashlib
import os

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import load
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import module_params

IMAGE = "registry.gitlab.com/gitlab-org/model-gateway:self-hosted-v18.2.10-ee"
IMAGE_ID = "sha256:" + "ab" * 32


def params(**given):
    return module_params("gateway_image", dict(image=IMAGE, image_id=IMAGE_ID), **given)


@pytest.mark.parametrize("given, field", [
    (dict(image="registry.gitlab.com/gitlab-org/model-gateway"), "image"),
    (dict(image="registry.gitlab.com/model-gateway@sha256:" + "0" * 64), "image"),
    (dict(image="127.0.0.1:5000/model-gateway"), "image"),  # a registry port is not a tag
    (dict(image_id="ab" * 32), "image_id"),
    (dict(image_id="sha256:AB"), "image_id"),
    (dict(archive="staged/x.tar.gz", sha256="0" * 64), "archive"),
    (dict(archive="/var/lib/x.tar.gz", sha256="not-hex"), "sha256"),
    (dict(size=-1), "size"),
])
def test_bad_input_is_refused_before_the_engine_is_asked(given, field):
    with pytest.raises(InputError) as info:
        load.check_params(params(**given))
    assert info.value.details["field"] == field and "Fix:" in info.value.msg


def test_good_input_passes():
    load.check_params(params(archive="/var/lib/x.tar.gz", sha256="0" * 64, size=10))


def staged(tmp_path, content=b"archive bytes" * 1000):
    path = tmp_path / "staging" / "x.tar.gz"
    path.parent.mkdir()
    path.write_bytes(content)
    return str(path), hashlib.sha256(content).hexdigest(), len(content)


def test_an_archive_that_matches_its_checksum_passes(tmp_path):
    archive, digest, size = staged(tmp_path)
    assert load.verify_archive(params(archive=archive, sha256=digest, size=size)) == size
    assert os.path.exists(archive)


def test_a_damaged_archive_is_removed_and_named_with_both_checksums_and_the_fix(tmp_path):
    archive, digest, size = staged(tmp_path)
    with open(archive, "r+b") as handle:  # one byte flipped, as a bad copy or disk would
        handle.seek(size // 2)
        byte = handle.read(1)
        handle.seek(size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    found = hashlib.sha256(open(archive, "rb").read()).hexdigest()
    with pytest.raises(DuoError) as info:
        load.verify_archive(params(archive=archive, sha256=digest, size=size,
                                   bundle_archive="/srv/bundle/images/x.tar.gz"))
    message = info.value.msg
    assert digest in message and found in message and archive in message
    assert "/srv/bundle/images/x.tar.gz" in message and "nothing was loaded" in message
    assert load.VERIFY_FIX in message
    assert info.value.details["expected_sha256"] == digest and info.value.details["found_sha256"] == found
    assert not os.path.exists(archive)


def test_room_for_the_archive_is_checked_where_it_will_be_staged(tmp_path):
    target = str(tmp_path / "not" / "made" / "yet" / "x.tar.gz")
    free = load.check_room(target, 1)
    assert free > 0
    with pytest.raises(DuoError) as info:
        load.check_room(target, free * 4 + 1024 ** 4)
    assert "ai_gateway_bundle_staging_dir" in info.value.msg and info.value.details["free_bytes"] > 0
