"""Where the GitLab version is read: given, local version file, or through the rails command's prefix."""

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import (
    GitLabVersion, detect, exec_prefix, given_or_installed, parse_gitlab_version, read_version_file)


class Commands:
    """Records argv and answers like a container: the file exists inside only."""

    def __init__(self, rc=0, stdout="19.2.0-ee\n", stderr=""):
        self.calls = []
        self.answer = (rc, stdout, stderr)

    def __call__(self, argv):
        self.calls.append(argv)
        return self.answer


def test_exec_prefix():
    assert exec_prefix(["gitlab-rails"]) == []
    assert exec_prefix(["docker", "exec", "-i", "gitlab", "gitlab-rails"]) == ["docker", "exec", "-i", "gitlab"]
    assert exec_prefix(["kubectl", "exec", "-i", "deploy/gitlab-toolbox", "--", "gitlab-rails"])[-1] == "--"
    assert exec_prefix(None) == []


def test_local_file_without_prefix(tmp_path):
    version_file = tmp_path / "VERSION"
    version_file.write_text("18.2.1-ee\n")
    run = Commands()
    assert read_version_file(str(version_file), ["gitlab-rails"], run) == ("18.2.1-ee", "file:" + str(version_file))
    assert run.calls == [], "Omnibus: no command runs"


def test_read_through_the_prefix():
    run = Commands()
    raw, source = read_version_file("/srv/gitlab/VERSION", ["docker", "exec", "-i", "gl", "gitlab-rails"], run)
    assert raw == "19.2.0-ee" and source == "file:/srv/gitlab/VERSION via docker exec -i gl"
    assert run.calls == [["docker", "exec", "-i", "gl", "cat", "/srv/gitlab/VERSION"]]
    version = given_or_installed(None, "/srv/gitlab/VERSION", rails_command=["docker", "exec", "gl", "gitlab-rails"],
                                 run_command=run)
    assert (version.major, version.minor) == (19, 2)
    assert detect(None, "/srv/gitlab/VERSION", ["docker", "exec", "gl", "gitlab-rails"], run)[0] == "19.2.0-ee"


def test_failures_name_the_command_and_the_fix(tmp_path):
    run = Commands(rc=1, stdout="", stderr="Error response from daemon: No such container: gl")
    with pytest.raises(DuoError) as info:
        given_or_installed(None, "/opt/VERSION", rails_command=["docker", "exec", "gl", "gitlab-rails"], run_command=run)
    assert "`docker exec gl cat /opt/VERSION` gave exit code 1: Error response from daemon" in info.value.msg
    assert "Fix: set gitlab_version" in info.value.msg
    with pytest.raises(DuoError) as info:
        detect(None, str(tmp_path / "missing"))
    assert "no readable version file" in info.value.msg and "no api_token" in info.value.msg
    assert given_or_installed("18.3.0", str(tmp_path / "missing")).minor == 3, "a given version reads nothing"


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
