import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.release import (
    checked_image, choose_release, nearest_releases, pinned_release, release_parts, release_tag_version, resolve,
    running_release)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import parse_gitlab_version


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


REPOSITORY = "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
TAGS = ["self-hosted-v18.2.1-ee", "self-hosted-v18.2.2-ee", "self-hosted-v18.3.0-ee", "nightly", "latest"]


def offline(**overrides):
    params = dict(gitlab_version="18.2.1-ee", tag=None, registry="registry.gitlab.com", repository=REPOSITORY,
                  tags=TAGS, registry_username=None, registry_password=None, validate_certs=True, ca_path=None,
                  timeout=30)
    params.update(overrides)
    return params


def test_resolve_offline_list_asks_no_registry_and_has_no_digest():
    result = resolve(offline())
    assert result["tag"] == "self-hosted-v18.2.2-ee"
    assert result["image"] == "registry.gitlab.com/{0}:self-hosted-v18.2.2-ee".format(REPOSITORY)
    assert result["digest"] is None and result["pinned_image"] == result["image"]
    assert result["tags_seen"] == 5 and result["gitlab_version"] == "18.2.1" and result["changed"] is False


def test_resolve_honours_a_pin_of_the_same_minor():
    assert resolve(offline(tag="self-hosted-v18.2.1-ee"))["tag"] == "self-hosted-v18.2.1-ee"


@pytest.mark.parametrize("tag, problem", [
    ("nightly", "not a self-hosted-vX.Y.Z-ee release"),
    ("self-hosted-v18.3.0-ee", "does not match GitLab 18.2.1"),
    ("self-hosted-v18.2.11-ee-rc1", "not a self-hosted-vX.Y.Z-ee release"),
])
def test_pin_refused_with_the_fix(tag, problem):
    with pytest.raises(InputError) as info:
        pinned_release(tag, parse_gitlab_version("18.2.1"), TAGS + [tag])
    assert problem in info.value.msg and "Fix:" in info.value.msg and info.value.details["field"] == "tag"


def test_pin_that_does_not_exist():
    with pytest.raises(DuoError) as info:
        pinned_release("self-hosted-v18.2.7-ee", parse_gitlab_version("18.2.1"), TAGS)
    assert "no such tag" in info.value.msg


@pytest.mark.parametrize("image", [
    "registry.example.com:5000/ai/model-gateway:self-hosted-v18.2.2-ee",
    "registry.example.com:5000/ai/model-gateway:self-hosted-v18.2.2-ee@sha256:" + "a" * 64,
])
def test_checked_image_accepts_release_tags_and_digest_pins(image):
    assert checked_image(image) == image


@pytest.mark.parametrize("image, problem", [
    ("registry.example.com:5000/ai/model-gateway", "has no tag"),
    ("registry.example.com:5000/ai/model-gateway@sha256:" + "a" * 64, "has no tag"),
    ("registry.gitlab.com/x/model-gateway:latest", "uses 'latest'"),
    ("registry.gitlab.com/x/model-gateway:nightly-2026-11-01", "uses 'nightly-2026-11-01'"),
    ("", "has no tag"),
])
def test_checked_image_refuses(image, problem):
    with pytest.raises(InputError) as info:
        checked_image(image)
    assert problem in info.value.msg and info.value.details["field"] == "image"


@pytest.mark.parametrize("image, tag, parts", [
    ("registry.example.com/gw:self-hosted-v18.2.10-ee", "self-hosted-v18.2.10-ee", (18, 2, 10)),
    ("registry.example.com:5000/gw:self-hosted-v18.2.10-ee@sha256:" + "0" * 64, "self-hosted-v18.2.10-ee", (18, 2, 10)),
    ("registry.example.com:5000/gw@sha256:" + "0" * 64, None, None),
    ("registry.example.com:5000/gw", None, None),
    ("gw:nightly", "nightly", None),
    ("gw:v1.2.3", "v1.2.3", None),
])
def test_running_release_reads_every_form_of_config_image(image, tag, parts):
    found_tag, found_parts, problem = running_release(image)
    assert (found_tag, found_parts) == (tag, parts)
    assert (problem is None) == (parts is not None)
    assert problem is None or "Fix:" in problem


def test_release_parts_names_the_field():
    assert release_parts("self-hosted-v18.10.0-ee", "target_tag") == (18, 10, 0)
    with pytest.raises(InputError) as info:
        release_parts("latest", "pinned_tag")
    assert info.value.details["field"] == "pinned_tag" and "self-hosted-v18.2.2-ee" in info.value.msg
