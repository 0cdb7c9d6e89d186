import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._versions import (
    GitLabVersion, choose_release, nearest_releases, parse_gitlab_version, release_tag_version)


@pytest.mark.parametrize("text, expected", [
    ("18.2.1-ee", GitLabVersion(18, 2, 1, "ee")),
    ("v18.2.1-ee", GitLabVersion(18, 2, 1, "ee")),
    ("18.2.1", GitLabVersion(18, 2, 1, "ee")),
    (" 18.10.0-ee\n", GitLabVersion(18, 10, 0, "ee")),
    ("17.11.3-ce", GitLabVersion(17, 11, 3, "ce")),
    ("18.2.1-ee.0", GitLabVersion(18, 2, 1, "ee")),
])
def test_parse_gitlab_version(text, expected):
    assert parse_gitlab_version(text) == expected


@pytest.mark.parametrize("text", ["", None, "18.2", "latest", "nightly", "18.x.1", "self-hosted-v18.2.1-ee"])
def test_parse_gitlab_version_rejects(text):
    with pytest.raises(InputError) as info:
        parse_gitlab_version(text, field="gitlab_version")
    assert "gitlab_version=" in info.value.msg and "Fix:" in info.value.msg


@pytest.mark.parametrize("tag, expected", [
    ("self-hosted-v18.2.10-ee", (18, 2, 10)),
    ("self-hosted-v18.2.1-ee", (18, 2, 1)),
    ("nightly", None), ("latest", None), ("self-hosted-v18.2.1", None),
    ("self-hosted-v18.2.1-ee-rc1", None), ("v18.2.1-ee", None), ("self-hosted-18.2.1-ee", None),
])
def test_release_tag_version(tag, expected):
    assert release_tag_version(tag) == expected


DOCUMENTED = [
    ({"self-hosted-v18.2.0-ee", "self-hosted-v18.2.1-ee", "self-hosted-v18.2.2-ee"}, "self-hosted-v18.2.2-ee"),
    ({"self-hosted-v18.2.0-ee", "self-hosted-v18.2.1-ee"}, "self-hosted-v18.2.1-ee"),
    ({"self-hosted-v18.2.0-ee"}, "self-hosted-v18.2.0-ee"),
]


@pytest.mark.parametrize("tags, expected", DOCUMENTED)
def test_documented_examples(tags, expected):
    assert choose_release(parse_gitlab_version("v18.2.1-ee"), sorted(tags)) == expected


def test_numeric_not_lexical_and_minor_boundaries():
    tags = ["nightly", "latest", "self-hosted-v18.2.9-ee", "self-hosted-v18.2.10-ee", "self-hosted-v18.10.0-ee",
            "self-hosted-v18.1.5-ee", "self-hosted-v18.20.1-ee", "self-hosted-v18.2.11-ee-rc1", "self-hosted-v19.2.99-ee"]
    assert choose_release(parse_gitlab_version("18.2.1"), tags) == "self-hosted-v18.2.10-ee"
    assert choose_release(parse_gitlab_version("18.1.0"), tags) == "self-hosted-v18.1.5-ee"
    assert choose_release(parse_gitlab_version("18.10.3"), tags) == "self-hosted-v18.10.0-ee"


def test_missing_minor_lists_nearest():
    tags = ["self-hosted-v18.1.2-ee", "self-hosted-v18.2.0-ee", "self-hosted-v18.2.3-ee", "self-hosted-v18.5.0-ee",
            "self-hosted-v17.11.0-ee", "nightly"]
    with pytest.raises(DuoError) as info:
        choose_release(parse_gitlab_version("18.3.0-ee"), tags)
    assert "self-hosted-v18.3.*-ee" in info.value.msg
    assert info.value.details["nearest_tags"] == [
        "self-hosted-v17.11.0-ee", "self-hosted-v18.1.2-ee", "self-hosted-v18.2.3-ee", "self-hosted-v18.5.0-ee"]
    assert "self-hosted-v18.2.3-ee" in info.value.msg and "nightly" not in info.value.msg


def test_nearest_releases_order():
    tags = ["self-hosted-v18.1.2-ee", "self-hosted-v18.2.3-ee", "self-hosted-v18.5.0-ee", "self-hosted-v17.11.0-ee",
            "self-hosted-v16.0.0-ee"]
    assert nearest_releases(parse_gitlab_version("18.3.0"), tags, count=3) == [
        "self-hosted-v18.1.2-ee", "self-hosted-v18.2.3-ee", "self-hosted-v18.5.0-ee"]


def test_no_release_tags_at_all():
    with pytest.raises(DuoError) as info:
        choose_release(parse_gitlab_version("18.3.0"), ["nightly", "latest"])
    assert "none (no self-hosted-v*-ee tags at all)" in info.value.msg
