"""The collection's tarball in the bundle: packed again from an installed collection (checked against its
FILES.json first), kept while the collection's files are the same, and never built into itself."""

import hashlib
import json
import os
import tarfile

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import collection, manifest
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import module_params


def installed(root, readme=b"# readme\n"):
    """A collection as ansible-galaxy collection install leaves it: its files, FILES.json and MANIFEST.json."""
    path = root / "ansible_collections" / "gitlab_duo" / "self_hosted"
    (path / "plugins" / "modules").mkdir(parents=True)
    contents = {"README.md": readme, "plugins/modules/x.py": b"print('x')\n"}
    for name, content in contents.items():
        (path / name).write_bytes(content)
    entries = [dict(name=".", ftype="dir", chksum_type=None, chksum_sha256=None, format=1),
               dict(name="README.md", ftype="file", chksum_type="sha256",
                    chksum_sha256=hashlib.sha256(readme).hexdigest(), format=1),
               dict(name="plugins", ftype="dir", chksum_type=None, chksum_sha256=None, format=1),
               dict(name="plugins/modules", ftype="dir", chksum_type=None, chksum_sha256=None, format=1),
               dict(name="plugins/modules/x.py", ftype="file", chksum_type="sha256",
                    chksum_sha256=hashlib.sha256(contents["plugins/modules/x.py"]).hexdigest(), format=1)]
    files = json.dumps(dict(files=entries, format=1)).encode()
    (path / "FILES.json").write_bytes(files)
    (path / "MANIFEST.json").write_text(json.dumps(dict(
        collection_info=dict(namespace="gitlab_duo", name="self_hosted", version="0.1.0"),
        file_manifest_file=dict(name="FILES.json", chksum_sha256=hashlib.sha256(files).hexdigest()), format=1)))
    return str(path)


def test_an_installed_collection_is_packed_again_as_galaxy_lays_it_out(tmp_path):
    source = installed(tmp_path / "c")
    out = tmp_path / "out"
    out.mkdir()
    tarball = collection.build(source, str(out))
    assert os.path.basename(tarball) == "gitlab_duo-self_hosted-0.1.0.tar.gz"
    with tarfile.open(tarball) as archive:
        assert archive.getnames() == ["MANIFEST.json", "FILES.json", "README.md", "plugins", "plugins/modules",
                                      "plugins/modules/x.py"]
        assert archive.extractfile("README.md").read() == b"# readme\n"
    assert collection.identity(tarball)["MANIFEST.json"]["collection_info"]["version"] == "0.1.0"
    again = tmp_path / "again"
    again.mkdir()
    assert manifest.sha256_file(collection.build(source, str(again))) == manifest.sha256_file(tarball), (
        "the same installed files pack to the same bytes")


def test_an_installed_file_changed_since_install_is_refused(tmp_path):
    source = installed(tmp_path / "c")
    with open(os.path.join(source, "README.md"), "ab") as handle:
        handle.write(b"edited")
    with pytest.raises(DuoError) as raised:
        collection.build(source, str(tmp_path))
    assert "differs from its FILES.json (README.md)" in raised.value.msg and "Fix:" in raised.value.msg


def test_neither_checkout_nor_installed_is_refused(tmp_path):
    with pytest.raises(DuoError) as raised:
        collection.build(str(tmp_path), str(tmp_path))
    assert raised.value.msg.startswith("collection_path=")
    assert collection.identity(str(tmp_path / "absent.tar.gz")) is None


def params(bundle, source):
    return module_params("bundle_collection", bundle_dir=str(bundle), collection_path=source)


def test_the_bundles_tarball_is_kept_while_the_collection_is_the_same(tmp_path):
    source, bundle = installed(tmp_path / "c"), tmp_path / "bundle"
    first = collection.ensure_collection(params(bundle, source), False)
    target = bundle / first["collection"]["file"]
    assert first["changed"] and first["source"] == "installed" and target.exists()
    assert (first["collection"]["sha256"], first["collection"]["size"]) == manifest.sha256_file(str(target))
    stamp = os.stat(str(target)).st_mtime_ns
    assert not collection.ensure_collection(params(bundle, source), False)["changed"]
    assert os.stat(str(target)).st_mtime_ns == stamp

    # Damaged in the bundle (no longer a readable tarball of the same files): replaced.
    target.write_bytes(b"damaged")
    assert collection.ensure_collection(params(bundle, source), False)["changed"]
    assert collection.identity(str(target)) is not None


def test_check_mode_says_a_changed_collection_would_be_replaced(tmp_path):
    bundle = tmp_path / "bundle"
    collection.ensure_collection(params(bundle, installed(tmp_path / "c")), False)
    before = (bundle / "collection" / "gitlab_duo-self_hosted-0.1.0.tar.gz").read_bytes()
    changed = installed(tmp_path / "d", readme=b"# another readme\n")
    preview = collection.ensure_collection(params(bundle, changed), True)
    assert preview["changed"] and (bundle / "collection" / "gitlab_duo-self_hosted-0.1.0.tar.gz").read_bytes() == before


def test_a_bundle_inside_the_collection_is_refused(tmp_path):
    source = installed(tmp_path / "c")
    with pytest.raises(DuoError) as raised:
        collection.ensure_collection(params(os.path.join(source, "bundle"), source), False)
    assert raised.value.msg.startswith("bundle_dir=") and "outside the collection" in raised.value.msg
