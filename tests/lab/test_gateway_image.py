"""gateway_image on the lab's Docker engine: an image found by its ID gets its name and needs no archive; an absent
one needs its archive, which is checked (a damaged one is removed, nothing loaded), streamed to the engine, checked
by image ID (a wrong one is undone) and named; a run killed at any moment is finished by the next one. Each test makes
its own images (unique IDs) and removes them."""

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
import uuid

import pytest
from docker.errors import ImageNotFound

from .conftest import REPO, VENV_BIN, run_module

REPOSITORY = "duo-test/bundle-load"


class Made:
    """Images a test made, removed at the end whatever happened."""

    def __init__(self, lab):
        self.lab, self.ids = lab, set()

    def image(self, payload_bytes=4096, tag=None):
        """A new image (random payload: an ID no engine has), named REPOSITORY:<tag>."""
        tag = tag or uuid.uuid4().hex[:12]
        layer = io.BytesIO()
        with tarfile.open(fileobj=layer, mode="w") as archive:
            data = os.urandom(payload_bytes)
            info = tarfile.TarInfo("payload")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        self.lab.api.import_image_from_data(layer.getvalue(), repository=REPOSITORY, tag=tag)
        image = self.lab.images.get(REPOSITORY + ":" + tag)
        self.ids.add(image.id)
        return image, REPOSITORY + ":" + tag

    def archive(self, path, payload_bytes=4096):
        """A gzipped docker-archive of a new image at ``path``, the image removed from the engine again (as on a host
        that never had it): (name it loads as, image ID, sha256, size)."""
        image, reference = self.image(payload_bytes)
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
            for chunk in image.save(named=True):
                packed.write(chunk)
        self.lab.images.remove(image.id, force=True)
        with open(path, "rb") as handle:
            content = handle.read()
        return reference, image.id, hashlib.sha256(content).hexdigest(), len(content)

    def cleanup(self):
        for image_id in self.ids:
            try:
                self.lab.images.remove(image_id, force=True)
            except Exception:  # pylint: disable=broad-except  # already gone
                pass


@pytest.fixture
def made(lab):
    found = Made(lab)
    yield found
    found.cleanup()


@pytest.fixture
def bundle_archive(made, tmp_path):
    """An archive as the bundle holds it (on the control node) and where the play stages it on the host."""
    source = tmp_path / "bundle" / "images" / "x.tar.gz"
    source.parent.mkdir(parents=True)
    reference, image_id, digest, size = made.archive(str(source))
    staged = tmp_path / "staging" / "x.tar.gz"
    args = {"image": reference, "image_id": image_id, "archive": str(staged), "sha256": digest, "size": size,
            "bundle_archive": str(source)}
    return {"source": source, "staged": staged, "args": args}


def stage(bundle_archive):
    bundle_archive["staged"].parent.mkdir(exist_ok=True)
    shutil.copy(str(bundle_archive["source"]), str(bundle_archive["staged"]))


def names(lab, image_id):
    return lab.images.get(image_id).tags


def test_an_image_the_host_has_by_id_only_gets_its_name(lab, made):
    image, _first_name = made.image()
    wanted = REPOSITORY + ":also-" + uuid.uuid4().hex[:8]
    args = {"image": wanted, "image_id": image.id, "archive": "/nonexistent/staging/x.tar.gz", "sha256": "0" * 64}
    rc, result, output = run_module("gateway_image", args, "--check", "--diff")
    assert rc == 0 and result["changed"] and result["tagged"] and not result["needs_archive"], output
    assert wanted not in names(lab, image.id)
    rc, result, output = run_module("gateway_image", args)
    assert rc == 0 and result["changed"] and result["present"] and result["tagged"], output
    assert not result["loaded"] and not result["needs_archive"]
    assert wanted in names(lab, image.id)
    rc, result, _output = run_module("gateway_image", args)
    assert rc == 0 and not result["changed"] and result["present"]
    # Docker Hub's full name is the name the engine lists without docker.io/: the same name, nothing to tag.
    rc, result, _output = run_module("gateway_image", dict(args, image="docker.io/" + wanted))
    assert rc == 0 and not result["changed"] and result["present"]


def test_an_absent_image_needs_its_archive_then_is_checked_loaded_and_named(lab, bundle_archive):
    args, staged = bundle_archive["args"], bundle_archive["staged"]
    rc, result, output = run_module("gateway_image", args)
    assert rc == 0 and result["needs_archive"] and not result["changed"], output
    assert result["free_bytes"] > args["size"]
    # Check mode calls what the play would copy a change, and says from where.
    rc, result, output = run_module("gateway_image", args, "--check", "--diff")
    assert rc == 0 and result["needs_archive"] and result["changed"], output
    assert str(bundle_archive["source"]) in output and str(staged) in output

    stage(bundle_archive)
    rc, result, output = run_module("gateway_image", args, "--check", "--diff")
    assert rc == 0 and result["changed"] and result["loaded"], output
    assert staged.exists()
    with pytest.raises(ImageNotFound):
        lab.images.get(args["image_id"])

    rc, result, output = run_module("gateway_image", args)
    assert rc == 0 and result["changed"] and result["loaded"] and result["archive_removed"], output
    assert lab.images.get(args["image"]).id == args["image_id"]
    assert not staged.exists()
    rc, result, _output = run_module("gateway_image", args)
    assert rc == 0 and not result["changed"] and result["present"] and not result["needs_archive"]


def test_a_damaged_archive_is_refused_before_loading_and_removed(lab, bundle_archive):
    args, staged = bundle_archive["args"], bundle_archive["staged"]
    stage(bundle_archive)
    with open(str(staged), "r+b") as handle:
        handle.seek(args["size"] // 2)
        byte = handle.read(1)
        handle.seek(args["size"] // 2)
        handle.write(bytes([byte[0] ^ 0x01]))
    found = hashlib.sha256(staged.read_bytes()).hexdigest()
    rc, result, output = run_module("gateway_image", args)
    assert rc != 0, output
    assert args["sha256"] in result["msg"] and found in result["msg"] and str(staged) in result["msg"]
    assert "nothing was loaded" in result["msg"] and "--tags verify" in result["msg"]
    assert (result["expected_sha256"], result["found_sha256"]) == (args["sha256"], found)
    assert not staged.exists()
    with pytest.raises(ImageNotFound):
        lab.images.get(args["image_id"])
    with pytest.raises(ImageNotFound):
        lab.images.get(args["image"])


def test_an_archive_that_loads_as_another_image_is_undone(lab, made, bundle_archive):
    args, staged = bundle_archive["args"], bundle_archive["staged"]
    # The name the archive loads as names another image here already: the failed load must give it back.
    other, _name = made.image()
    other.tag(REPOSITORY, args["image"].rsplit(":", 1)[1])
    stage(bundle_archive)
    loaded_id = args["image_id"]
    wrong = dict(args, image_id="sha256:" + "e" * 64)
    rc, result, output = run_module("gateway_image", wrong)
    assert rc != 0, output
    assert "not sha256:" + "e" * 64 in result["msg"] and loaded_id in result["msg"]
    with pytest.raises(ImageNotFound):
        lab.images.get(loaded_id)
    assert lab.images.get(args["image"]).id == other.id
    assert not staged.exists()


def kill_run(args, seconds):
    """gateway_image's service in a process of its own, killed (SIGKILL) after ``seconds``; True when it had ended.
    On this machine 0.2 s and 0.6 s land before the load finished (the next run loads), 1.2 s after it."""
    code = ("import json, sys; sys.path.insert(0, {0!r});"
            "from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.load import ensure;"
            "ensure(json.loads(sys.argv[1]))").format(os.path.join(REPO, ".lab", "collections"))
    params = dict(args, bundle_archive=None, load_timeout=600, lock_timeout=60, docker_host=None)
    process = subprocess.Popen([os.path.join(VENV_BIN, "python"), "-c", code, json.dumps(params)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(seconds)
    finished = process.poll() is not None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return finished


@pytest.mark.parametrize("seconds", [0.2, 0.6, 1.2])
def test_a_run_killed_at_any_moment_is_finished_by_the_next(lab, made, tmp_path, seconds):
    source = tmp_path / "big.tar.gz"
    reference, image_id, digest, size = made.archive(str(source), payload_bytes=48 * 1024 * 1024)
    staged = tmp_path / "staging" / "big.tar.gz"
    staged.parent.mkdir()
    shutil.copy(str(source), str(staged))
    args = {"image": reference, "image_id": image_id, "archive": str(staged), "sha256": digest, "size": size}
    kill_run(args, seconds)
    rc, result, output = run_module("gateway_image", args)
    assert rc == 0, output
    # Whatever step it was killed at: the image is here under its name, and no archive is left behind.
    assert lab.images.get(reference).id == image_id
    assert not staged.exists()
    assert result["loaded"] or result["present"]
