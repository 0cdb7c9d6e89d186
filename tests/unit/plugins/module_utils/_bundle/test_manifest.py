"""The bundle's manifest: its shape is checked before it is written or trusted, it is written atomically, and a
bundle directory is checked against it file by file, each problem with what to do."""

import json
import os

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import manifest
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import put_file

ARCHIVE = "images/model-gateway_self-hosted-v18.2.10-ee.tar.gz"


def a_bundle(bundle):
    """A small bundle on disk with its manifest written."""
    tarball = "collection/gitlab_duo-self_hosted-0.1.0.tar.gz"
    files = {ARCHIVE: put_file(bundle, ARCHIVE, b"archive bytes"), tarball: put_file(bundle, tarball, b"tarball"),
             "requirements/targets.txt": put_file(bundle, "requirements/targets.txt", b"docker==7.2.0\n")}
    image = dict(role="gateway", reference="r.example/x/model-gateway:self-hosted-v18.2.10-ee",
                 repository="x/model-gateway", tag="self-hosted-v18.2.10-ee", image_id="sha256:" + "a" * 64,
                 digest="sha256:" + "b" * 64, archive=ARCHIVE, gitlab_versions=["18.2.1"], **files[ARCHIVE])
    data = dict(format=1, created="2026-11-23T00:00:00+00:00", gitlab_versions={"18.2.1": image["tag"]},
                collection=dict(name="gitlab_duo.self_hosted", version="0.1.0",
                                file="collection/gitlab_duo-self_hosted-0.1.0.tar.gz"),
                images=[image], wheels={}, files=files)
    manifest.write(str(bundle), data)
    return data


def test_archive_names_are_safe_and_distinct():
    assert manifest.archive_name("gitlab-org/a/model-gateway", "self-hosted-v18.2.10-ee") == ARCHIVE
    assert manifest.archive_name("library/nginx", "1.27-alpine") == "images/nginx_1.27-alpine.tar.gz"
    assert manifest.archive_name("x/we:ird", "t@g") == "images/we_ird_t_g.tar.gz"


def test_write_then_load_round_trips_and_leaves_no_temporary(tmp_path):
    data = a_bundle(tmp_path)
    assert manifest.load(str(tmp_path)) == data
    assert sorted(os.listdir(str(tmp_path))) == ["collection", "images", "manifest.json", "requirements"]


@pytest.mark.parametrize("change, words", [
    (lambda data: data.update(format=2), "manifest format 2 is not 1"),
    (lambda data: data["images"][0].pop("image_id"), "has no 'image_id'"),
    (lambda data: data["images"][0].update(role="sidecar"), "role='sidecar'"),
    (lambda data: data["images"][0].update(archive="../outside.tar.gz"), "not a relative path inside the bundle"),
    (lambda data: data["files"].update({"/etc/passwd": {"sha256": "0" * 64}}), "not a relative path"),
    (lambda data: data["images"][0].update(sha256="xyz"), "is not 64 hex digits"),
])
def test_a_malformed_manifest_is_refused_naming_what_is_wrong(tmp_path, change, words):
    data = a_bundle(tmp_path)
    change(data)
    with pytest.raises(DuoError) as raised:
        manifest.validate(str(tmp_path), data)
    assert words in raised.value.msg and "Fix:" in raised.value.msg


def test_previous_is_none_with_the_reason_when_the_manifest_cannot_be_trusted(tmp_path):
    assert manifest.previous(str(tmp_path)) == (None, None)
    (tmp_path / "manifest.json").write_text("{not json")
    data, problem = manifest.previous(str(tmp_path))
    assert data is None and "cannot read manifest.json" in problem
    with pytest.raises(DuoError) as raised:
        manifest.load(str(tmp_path / "elsewhere"))
    assert "no manifest.json in it" in raised.value.msg


def test_same_content_ignores_only_the_creation_time(tmp_path):
    data = a_bundle(tmp_path)
    later = json.loads(json.dumps(data))
    later["created"] = "2030-01-01T00:00:00+00:00"
    assert manifest.same_content(data, later)
    later["gitlab_versions"]["18.2.2"] = "self-hosted-v18.2.10-ee"
    assert not manifest.same_content(data, later) and not manifest.same_content(None, data)


def test_only_the_builds_folders_are_managed():
    assert manifest.managed("images/x.tar.gz") and manifest.managed("wheels/control/a.whl")
    assert not manifest.managed("notes.txt") and not manifest.managed("images") and not manifest.managed("docs/a")


def test_file_entries_take_this_runs_hashes_whose_size_matches_and_hash_the_rest(tmp_path):
    data = a_bundle(tmp_path)
    computed = {ARCHIVE: dict(sha256="c" * 64, size=data["files"][ARCHIVE]["size"]),
                "requirements/targets.txt": dict(sha256="d" * 64, size=1)}
    entries = manifest.file_entries(str(tmp_path), computed=computed)
    assert entries[ARCHIVE]["sha256"] == "c" * 64, "trusted: computed by the build in this run, same size"
    assert entries["requirements/targets.txt"] == data["files"]["requirements/targets.txt"], "size differs: hashed"
    assert sorted(entries) == sorted(data["files"])
    assert all(set(entry) == {"sha256", "size"} for entry in entries.values())
    with pytest.raises(DuoError):
        manifest.file_entries(str(tmp_path), paths=["images/absent.tar.gz"])


def test_file_entries_take_older_hashes_only_with_the_same_size_and_mtime(tmp_path):
    data = a_bundle(tmp_path)
    stat = os.stat(str(tmp_path / ARCHIVE))
    known = {ARCHIVE: dict(sha256="c" * 64, size=stat.st_size, mtime_ns=stat.st_mtime_ns),
             "requirements/targets.txt": dict(sha256="d" * 64, size=14)}
    entries = manifest.file_entries(str(tmp_path), known)
    assert entries[ARCHIVE] == dict(sha256="c" * 64, size=stat.st_size)
    assert entries["requirements/targets.txt"] == data["files"]["requirements/targets.txt"], "no mtime: hashed"
    os.utime(str(tmp_path / ARCHIVE), ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert manifest.file_entries(str(tmp_path), known)[ARCHIVE] == data["files"][ARCHIVE], "touched: hashed"


def test_verify_names_each_bad_file_with_its_fix(tmp_path):
    data = a_bundle(tmp_path)
    assert manifest.verify(str(tmp_path)) == []
    with open(str(tmp_path / ARCHIVE), "r+b") as handle:
        handle.write(b"X")
    os.remove(str(tmp_path / "requirements/targets.txt"))
    (tmp_path / "notes.txt").write_text("extra")
    (tmp_path / "collection" / "gitlab_duo-self_hosted-0.1.0.tar.gz").write_bytes(b"longer tarball")
    problems = {problem["path"]: problem for problem in manifest.verify(str(tmp_path), data)}
    assert problems[ARCHIVE]["problem"].startswith("sha256 ") and problems[ARCHIVE]["fix"] == manifest.FIX_DAMAGED
    assert problems["requirements/targets.txt"]["problem"] == "missing"
    assert problems["collection/gitlab_duo-self_hosted-0.1.0.tar.gz"]["problem"] == "size 14 bytes, manifest says 7"
    assert problems["notes.txt"] == dict(path="notes.txt", problem="not in the manifest", fix=manifest.FIX_EXTRA)


def test_verify_catches_images_and_files_that_disagree(tmp_path):
    data = a_bundle(tmp_path)
    data["images"][0]["sha256"] = "e" * 64
    data["collection"]["file"] = "collection/other.tar.gz"
    problems = manifest.verify(str(tmp_path), data)
    assert [problem["problem"] for problem in problems] == [
        "files and images disagree on its sha256", "collection tarball not listed in files"]


def test_check_reports_what_the_bundle_holds_or_fails_with_every_problem(tmp_path):
    a_bundle(tmp_path)
    result = manifest.check(str(tmp_path))
    assert result["ok"] and result["problems"] == [] and result["files"] == 3 and not result["changed"]
    assert result["gitlab_versions"] == {"18.2.1": "self-hosted-v18.2.10-ee"}
    assert result["images"] == [dict(role="gateway", reference="r.example/x/model-gateway:self-hosted-v18.2.10-ee",
                                     image_id="sha256:" + "a" * 64, archive=ARCHIVE)]
    (tmp_path / "notes.txt").write_text("extra")
    os.remove(str(tmp_path / ARCHIVE))
    with pytest.raises(DuoError) as raised:
        manifest.check(str(tmp_path))
    assert raised.value.msg.startswith("bundle='{0}' does not match its manifest (2 problems): ".format(tmp_path))
    assert ARCHIVE + ": missing. Fix: build again" in raised.value.msg
    assert "notes.txt: not in the manifest. Fix: remove it" in raised.value.msg
    assert raised.value.details["ok"] is False and len(raised.value.details["problems"]) == 2


def test_check_without_a_manifest_is_one_problem(tmp_path):
    with pytest.raises(DuoError) as raised:
        manifest.check(str(tmp_path))
    assert raised.value.details["problems"][0]["path"] == "manifest.json" and not raised.value.details["ok"]


def test_what_the_bundle_covers_for_the_targets(tmp_path):
    data = a_bundle(tmp_path)
    assert manifest.covered_versions(data) == "18.2.1 (self-hosted-v18.2.10-ee)"
    assert manifest.gateway_tags(data) == ["self-hosted-v18.2.10-ee"]
    assert manifest.image_entry(data, "gateway", tag="self-hosted-v18.2.10-ee") is data["images"][0]
    assert manifest.image_entry(data, "proxy", reference=data["images"][0]["reference"]) is None
    assert manifest.covered_versions(dict(gitlab_versions={})) == "no GitLab version"
