"""The bundle's wheels: the platform tags another machine installs, requirement lines without pip options, and a
folder brought to exactly what pip resolved - unchanged wheels untouched, pins written, check mode writing nothing."""

import hashlib
import os
import subprocess
import sys

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import wheels
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import module_params


def test_a_manylinux_tag_stands_for_every_older_one():
    tags = wheels.expand_platform("manylinux_2_36_x86_64")
    assert tags[0] == "manylinux_2_36_x86_64" and tags[-1] == "manylinux1_x86_64" and len(tags) == 35
    assert tags.index("manylinux2014_x86_64") == tags.index("manylinux_2_17_x86_64") + 1
    assert wheels.expand_platform("manylinux2014_aarch64")[0] == "manylinux_2_17_aarch64"
    assert wheels.expand_platform("musllinux_1_2_x86_64") == ["musllinux_1_2_x86_64"]


def test_this_machines_python_and_platform():
    assert wheels.default_python() == "{0}.{1}".format(*sys.version_info[:2])
    assert wheels.default_platform().startswith("manylinux_2_") and wheels.expand_platform(wheels.default_platform())


@pytest.mark.parametrize("line", ["--index-url=http://evil", "-r other.txt", "docker\n--pre", "!!"])
def test_requirement_lines_take_no_pip_options(line):
    with pytest.raises(DuoError) as raised:
        wheels.requirement_lines([line])
    assert raised.value.msg.startswith("requirements=") and "pip options are not taken" in raised.value.msg


def test_requirement_lines_skip_comments_and_blanks(tmp_path):
    assert wheels.requirement_lines(["docker==7.2.0", " ", "# pinned", "requests[socks]>=2"]) == [
        "docker==7.2.0", "requests[socks]>=2"]
    path = tmp_path / "requirements.txt"
    path.write_text("# Python packages\nansible-core==2.19.14\n\njmespath\n")
    assert wheels.read_requirements(str(path), "requirements_file") == ["ansible-core==2.19.14", "jmespath"]
    with pytest.raises(DuoError) as raised:
        wheels.read_requirements(str(tmp_path / "absent.txt"), "requirements_file")
    assert raised.value.msg.startswith("requirements_file=")


def test_pins_follow_the_wheels_in_the_folder():
    files = ["docker-7.2.0-py3-none-any.whl", "ansible_core-2.19.14-py3-none-any.whl",
             "cryptography-44.0.0-cp39-abi3-manylinux_2_34_x86_64.whl",
             "cryptography-50.0.2-cp311-abi3-manylinux_2_34_x86_64.whl"]
    assert wheels.pinned(["docker", "Ansible_Core>=2.16", "cryptography", "absent; python_version<'3'",
                          "docker[ssh] ; sys_platform == 'linux'"], files) == [
        "docker==7.2.0", "Ansible_Core==2.19.14", "cryptography", "absent; python_version<'3'",
        "docker[ssh]==7.2.0 ; sys_platform == 'linux'"]


def test_pip_is_asked_for_wheels_only_for_the_given_python_and_platforms():
    argv = wheels.pip_argv(["pip"], "req.txt", "/d", "3.11", ["manylinux_2_36_x86_64", "manylinux2014_x86_64"], "cp",
                           "constraints.txt")
    assert argv[:3] == ["pip", "download", "--only-binary=:all:"]
    assert argv[argv.index("--python-version") + 1] == "3.11" and argv[argv.index("--implementation") + 1] == "cp"
    platforms = [argv[index + 1] for index, arg in enumerate(argv) if arg == "--platform"]
    assert platforms == ["manylinux_2_36_x86_64", "manylinux2014_x86_64"]
    assert argv[-4:] == ["--constraint", "constraints.txt", "--requirement", "req.txt"]


class Pip:
    """What ``pip download`` does to its --dest: puts the wheels of the index (name: bytes), or fails as pip does."""

    def __init__(self, index, fail=None):
        self.index, self.fail, self.calls = index, fail, []

    def __call__(self, argv, **kwargs):
        self.calls.append(argv)
        if self.fail:
            return subprocess.CompletedProcess(argv, 1, b"", self.fail.encode())
        dest = argv[argv.index("--dest") + 1]
        os.makedirs(dest, exist_ok=True)
        for name, content in self.index.items():
            with open(os.path.join(dest, name), "wb") as handle:
                handle.write(content)
        return subprocess.CompletedProcess(argv, 0, b"", b"")


INDEX = {"docker-7.2.0-py3-none-any.whl": b"docker", "requests-2.34.2-py3-none-any.whl": b"requests"}


def params(bundle, **given):
    base = dict(bundle_dir=str(bundle), wheel_set="targets", requirements=["docker", "requests"],
                python_versions=["3.11"], platforms=["manylinux_2_36_x86_64"])
    return module_params("bundle_wheels", base, **given)


def test_the_folder_becomes_exactly_what_pip_resolved(tmp_path):
    first = wheels.ensure_wheels(params(tmp_path), False, runner=Pip(INDEX))
    folder = tmp_path / "wheels" / "targets"
    assert first["changed"] and first["added"] == sorted(INDEX) and sorted(os.listdir(str(folder))) == sorted(INDEX)
    assert (tmp_path / "requirements" / "targets.txt").read_text() == "docker==7.2.0\nrequests==2.34.2\n"
    assert first["wheels"]["files"]["wheels/targets/docker-7.2.0-py3-none-any.whl"] == dict(
        sha256=hashlib.sha256(b"docker").hexdigest(), size=6)
    assert first["wheels"]["files"]["requirements/targets.txt"]["size"] == 31
    assert first["wheels"]["platforms"] == ["manylinux_2_36_x86_64"]
    assert first["wheels"]["directory"] == "wheels/targets"
    mtimes = {name: os.stat(str(folder / name)).st_mtime_ns for name in INDEX}

    again = wheels.ensure_wheels(params(tmp_path), False, runner=Pip(INDEX))
    assert not again["changed"] and again["added"] == again["removed"] == []
    assert {name: os.stat(str(folder / name)).st_mtime_ns for name in INDEX} == mtimes, "unchanged wheels untouched"

    newer = {"docker-7.3.0-py3-none-any.whl": b"docker 7.3", "requests-2.34.2-py3-none-any.whl": b"requests"}
    preview = wheels.ensure_wheels(params(tmp_path), True, runner=Pip(newer))
    assert preview["changed"] and preview["added"] == ["docker-7.3.0-py3-none-any.whl"]
    assert preview["removed"] == ["docker-7.2.0-py3-none-any.whl"] and sorted(os.listdir(str(folder))) == sorted(INDEX)
    updated = wheels.ensure_wheels(params(tmp_path), False, runner=Pip(newer))
    assert sorted(os.listdir(str(folder))) == sorted(newer) and updated["changed"]
    assert (tmp_path / "requirements" / "targets.txt").read_text().startswith("docker==7.3.0\n")


def test_a_damaged_wheel_is_replaced(tmp_path):
    wheels.ensure_wheels(params(tmp_path), False, runner=Pip(INDEX))
    (tmp_path / "wheels" / "targets" / "docker-7.2.0-py3-none-any.whl").write_bytes(b"dockeR")
    repaired = wheels.ensure_wheels(params(tmp_path), False, runner=Pip(INDEX))
    assert repaired["added"] == ["docker-7.2.0-py3-none-any.whl"]
    assert (tmp_path / "wheels" / "targets" / "docker-7.2.0-py3-none-any.whl").read_bytes() == b"docker"


def test_one_pip_run_per_python_version_with_the_requirements_file(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jmespath==1.1.0\n")
    pip = Pip(INDEX)
    wheels.ensure_wheels(params(tmp_path / "b", requirements=[], requirements_file=str(requirements),
                                python_versions=["3.11", "3.12"]), True, runner=pip)
    assert [argv[argv.index("--python-version") + 1] for argv in pip.calls] == ["3.11", "3.12"]
    assert not os.path.exists(str(tmp_path / "b")), "check mode writes nothing"


def test_bad_input_and_pip_failures_are_clear(tmp_path):
    with pytest.raises(DuoError) as raised:
        wheels.ensure_wheels(params(tmp_path, requirements=[]), False, runner=Pip(INDEX))
    assert raised.value.msg.startswith("requirements=[]: names no project")
    with pytest.raises(DuoError) as raised:
        wheels.ensure_wheels(params(tmp_path, python_versions=["311"]), False, runner=Pip(INDEX))
    assert raised.value.msg.startswith("python_versions='311'")
    failing = Pip(INDEX, fail="ERROR: Could not find a version that satisfies the requirement dockr\n"
                              "ERROR: No matching distribution found for dockr\n")
    with pytest.raises(DuoError) as raised:
        wheels.ensure_wheels(params(tmp_path), False, runner=failing)
    assert "No matching distribution found for dockr" in raised.value.msg and "Fix:" in raised.value.msg
    assert not os.path.exists(str(tmp_path / "wheels")), "nothing written"
