"""Building the bundle: when an image must be fetched again, and the manifest written from what the steps report -
only when what it says changed, removing what the build no longer wants and leaving what is not the build's."""

import json
import os

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import build, manifest
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import module_params, put_file

TAG = "self-hosted-v18.2.10-ee"
ARCHIVE = "images/model-gateway_" + TAG + ".tar.gz"


def image(bundle, tag=TAG, versions=("18.2.1",), role="gateway", content=b"archive", **extra):
    archive = manifest.archive_name("x/model-gateway" if role == "gateway" else "library/nginx", tag)
    entry = dict(role=role, source="r.example/x:" + tag, reference="r.example/x:" + tag, repository="x/model-gateway",
                 tag=tag, image_id="sha256:" + "a" * 64, digest="sha256:" + "b" * 64, platform="linux/amd64",
                 archive=archive, gitlab_versions=list(versions), **put_file(bundle, archive, content))
    entry.update(extra)
    return entry


def reports(bundle, images):
    """What the collection and wheels steps report, their files put in place."""
    tarball = "collection/gitlab_duo-self_hosted-0.1.0.tar.gz"
    collection = dict(name="gitlab_duo.self_hosted", version="0.1.0", file=tarball,
                      **put_file(bundle, tarball, b"tarball"))
    wheel = "wheels/targets/docker-7.2.0-py3-none-any.whl"
    files = {wheel: put_file(bundle, wheel, b"wheel"),
             "requirements/targets.txt": put_file(bundle, "requirements/targets.txt", b"docker==7.2.0\n")}
    wheels = dict(targets=dict(python_versions=["3.11"], platforms=["manylinux_2_36_x86_64"], implementation="cp",
                               directory="wheels/targets", requirements="requirements/targets.txt",
                               packages=["docker-7.2.0-py3-none-any.whl"], files=files))
    return module_params("bundle_manifest", bundle_dir=str(bundle), images=images, collection=collection, wheels=wheels)


def test_why_an_image_is_fetched_again(tmp_path):
    old = image(tmp_path)
    path = os.path.join(str(tmp_path), old["archive"])
    assert build.why_fetch(old, old["digest"], old["reference"], "linux/amd64", path) is None
    assert build.why_fetch(None, "d", "r", "p", path) == "not in the bundle yet"
    assert build.why_fetch(old, "sha256:new", old["reference"], "linux/amd64", path).startswith(
        "the registry's digest changed (sha256:bbbb")
    assert build.why_fetch(old, old["digest"], "internal/x:1", "linux/amd64", path) == (
        "it loads as internal/x:1 now, not r.example/x:" + TAG)
    assert build.why_fetch(old, old["digest"], old["reference"], "linux/arm64", path).startswith("the platform")
    with open(path, "ab") as handle:
        handle.write(b"!")
    reason = build.why_fetch(old, old["digest"], old["reference"], "linux/amd64", path)
    assert "does not match the manifest's sha256" in reason
    os.remove(path)
    assert build.why_fetch(old, old["digest"], old["reference"], "linux/amd64", path) == "its archive is missing"


def test_a_gateway_image_never_loads_as_latest_and_a_reference_has_no_scheme(tmp_path):
    base = dict(bundle_dir=str(tmp_path), source="http://127.0.0.1:5000/x/model-gateway:latest")
    with pytest.raises(DuoError) as raised:
        build.ensure_image(module_params("bundle_image", base), check_mode=True)
    assert raised.value.msg.startswith("reference='127.0.0.1:5000/x/model-gateway:latest'")
    with pytest.raises(DuoError) as raised:
        build.ensure_image(module_params("bundle_image", base, reference="http://r/x:1", role="proxy"), True)
    assert "has a scheme" in raised.value.msg


def test_the_first_manifest_lists_every_file_and_the_versions_map(tmp_path):
    images = [image(tmp_path), image(tmp_path, "1.22-lab", (), "proxy", b"nginx")]
    result = build.assemble(reports(tmp_path, images), check_mode=False)
    data = manifest.load(str(tmp_path))
    assert result["changed"] and result["manifest"] == data and result["removed"] == []
    assert data["gitlab_versions"] == {"18.2.1": TAG}
    assert [entry["role"] for entry in data["images"]] == ["gateway", "proxy"]
    assert sorted(data["files"]) == sorted(manifest.bundle_files(str(tmp_path)))
    assert "files" not in data["wheels"]["targets"] and data["collection"] == dict(
        name="gitlab_duo.self_hosted", version="0.1.0", file="collection/gitlab_duo-self_hosted-0.1.0.tar.gz")
    assert manifest.verify(str(tmp_path)) == []


def test_the_same_report_again_changes_nothing_and_keeps_the_file(tmp_path):
    params = reports(tmp_path, [image(tmp_path)])
    build.assemble(params, check_mode=False)
    before = os.stat(str(tmp_path / "manifest.json"))
    again = build.assemble(params, check_mode=False)
    assert not again["changed"] and again["diff"]["before"] == again["diff"]["after"]
    assert os.stat(str(tmp_path / "manifest.json")).st_mtime_ns == before.st_mtime_ns


def test_an_image_no_longer_wanted_is_dropped_and_its_archive_and_leftovers_removed(tmp_path):
    build.assemble(reports(tmp_path, [image(tmp_path), image(tmp_path, "self-hosted-v18.3.0-ee", ("18.3.0",))]),
                   check_mode=False)
    put_file(tmp_path, "images/model-gateway_self-hosted-v19.2.0-ee.tar.gz.tar.partial", b"killed")
    put_file(tmp_path, "wheels/control/old-1.0-py3-none-any.whl", b"old set")
    (tmp_path / "notes.txt").write_text("mine")
    params = reports(tmp_path, [image(tmp_path)])

    preview = build.assemble(params, check_mode=True)
    removed = ["images/model-gateway_self-hosted-v18.3.0-ee.tar.gz",
               "images/model-gateway_self-hosted-v19.2.0-ee.tar.gz.tar.partial",
               "wheels/control/old-1.0-py3-none-any.whl"]
    assert preview["changed"] and preview["removed"] == removed and os.path.exists(str(tmp_path / removed[0]))
    assert "18.3.0" in manifest.load(str(tmp_path))["gitlab_versions"], "check mode writes nothing"

    result = build.assemble(params, check_mode=False)
    assert result["removed"] == removed and result["unmanaged"] == ["notes.txt"]
    assert result["warnings"] == ["notes.txt in the bundle is not the build's: verify reports it until it is removed"]
    assert manifest.load(str(tmp_path))["gitlab_versions"] == {"18.2.1": TAG}
    assert not any(os.path.exists(str(tmp_path / path)) for path in removed)
    assert not os.path.exists(str(tmp_path / "wheels" / "control")), "an emptied folder of the build goes too"
    assert [problem["path"] for problem in manifest.verify(str(tmp_path))] == ["notes.txt"]


def test_check_mode_with_an_image_still_to_fetch(tmp_path):
    build.assemble(reports(tmp_path, [image(tmp_path)]), check_mode=False)
    written = (tmp_path / "manifest.json").read_bytes()
    pending = dict(image(tmp_path, "self-hosted-v18.3.0-ee", ("18.3.0",)), pending=True)
    os.remove(str(tmp_path / pending["archive"]))
    for key in ("image_id", "sha256", "size"):
        pending.pop(key)
    params = reports(tmp_path, [image(tmp_path), pending])
    result = build.assemble(params, check_mode=True)
    assert result["changed"] and result["pending"] == [pending["reference"]] and result["removed"] == []
    assert (tmp_path / "manifest.json").read_bytes() == written
    with pytest.raises(DuoError) as raised:
        build.assemble(params, check_mode=False)
    assert "run without --check" in raised.value.msg


def test_reports_that_do_not_come_from_the_steps_are_refused(tmp_path):
    incomplete = image(tmp_path)
    incomplete.pop("digest")
    with pytest.raises(DuoError) as raised:
        build.assemble(reports(tmp_path, [incomplete]), check_mode=False)
    assert raised.value.msg.startswith("images[0]=") and "lacks digest" in raised.value.msg
    twice = [image(tmp_path), image(tmp_path, versions=("18.2.2",))]
    with pytest.raises(DuoError) as raised:
        build.assemble(reports(tmp_path, twice), check_mode=False)
    assert "is named twice" in raised.value.msg
    claimed = [image(tmp_path), image(tmp_path, "self-hosted-v18.3.0-ee", ("18.2.1",))]
    with pytest.raises(DuoError) as raised:
        build.assemble(reports(tmp_path, claimed), check_mode=False)
    assert raised.value.msg.startswith("images='18.2.1': is claimed by")
    params = reports(tmp_path, [image(tmp_path)])
    params["wheels"]["targets"].pop("files")
    with pytest.raises(DuoError) as raised:
        build.assemble(params, check_mode=False)
    assert raised.value.msg.startswith("wheels.targets=")


def test_a_broken_previous_manifest_is_replaced_with_a_warning(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 9}))
    result = build.assemble(reports(tmp_path, [image(tmp_path)]), check_mode=False)
    assert result["changed"] and "the previous manifest was not used" in result["warnings"][0]
    assert manifest.load(str(tmp_path))["format"] == 1
