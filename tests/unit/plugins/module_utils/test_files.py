"""Report files: 0600 from the first byte, never through a symlink, and names that cannot meet."""

import os
import stat

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._files import file_stem, replace_private, write_private


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_0600_and_an_existing_file_set_back(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old and longer")
    os.chmod(path, 0o644)
    write_private(str(path), "new ✔")
    assert path.read_text() == "new ✔" and mode(path) == 0o600


def test_never_through_a_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    (tmp_path / "report.md").symlink_to(target)
    with pytest.raises(OSError):
        write_private(str(tmp_path / "report.md"), "x")
    assert target.read_text() == "keep"


@pytest.mark.parametrize("name", ["upgrade", "skew-2026.11", "gitlab.example.com", "prod_eu"])
def test_a_safe_name_is_its_own_file_name(name):
    assert file_stem(name) == name


@pytest.mark.parametrize("name", ["prod/eu", "../etc/passwd", ".hidden", "..", "a b", "", "prod\neu", "é"])
def test_an_unsafe_name_is_cleaned_and_tagged(name):
    stem = file_stem(name)
    assert "/" not in stem and not stem.startswith(".") and stem
    assert all(char.isalnum() and char.isascii() or char in "_.-" for char in stem)


def test_names_that_clean_alike_never_share_a_file():
    names = ["prod/eu", "prod_eu", "prod eu", "prod:eu", "prod\\eu"]
    assert len({file_stem(name) for name in names}) == len(names)
    assert file_stem("prod/eu") == file_stem("prod/eu")


@pytest.mark.parametrize("name", ["fleet", "FLEET", "Fleet"])
def test_a_reserved_stem_gets_a_hashed_file_name(name):
    stem = file_stem(name, reserved=("fleet",))
    assert stem.lower() != "fleet" and stem.startswith(name)
    assert file_stem("fleet-eu", reserved=("fleet",)) == "fleet-eu"


def test_replaced_as_a_whole_0600_and_a_symlink_is_replaced_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    link = tmp_path / "snapshot.json"
    link.symlink_to(target)
    replace_private(str(link), "new ✔")
    assert not link.is_symlink() and link.read_text() == "new ✔" and mode(link) == 0o600
    assert target.read_text() == "keep"
    assert sorted(os.listdir(str(tmp_path))) == ["elsewhere", "snapshot.json"]
