"""The control node inside an air-gapped network, set up from the bundle alone, exactly as docs/airgap.md says: a
virtual environment from the bundle's wheels (pip --no-index), the collection from its tarball, then the collection
at work (ansible-doc, and bundle.yml --tags verify checking the bundle it came in). It all runs in a network
namespace that has nothing but loopback, with no pip configuration and no PIP_* variable, so no index, wheel
directory or registry could answer even if something asked."""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

from .conftest import REGISTRY, REPO, run_playbook

GATEWAY = "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
# The interpreter the venv is made from: the one this venv was made from (its base), as on a fresh control node.
BASE_PYTHON = os.path.join(sys.base_prefix, "bin", "python3")


def offline(script, home, timeout=600):
    """``script`` (sh) in a new network namespace with only loopback, with an environment of nothing but PATH and
    HOME, run in HOME: no pip.conf (PIP_CONFIG_FILE=/dev/null), no PIP_* variable, no proxy variable, no
    ansible.cfg of this checkout."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "PIP_CONFIG_FILE": "/dev/null",
           "LC_ALL": "C.UTF-8"}
    return subprocess.run(["unshare", "--net", "sh", "-ec", script], env=env, cwd=home, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def carried_bundle(tmp_path_factory):
    """A bundle built on the 'connected side' by bundle.yml: one gateway image and the control node's wheels."""
    workdir = tmp_path_factory.mktemp("offline")
    bundle = str(workdir / "bundle")
    inventory = workdir / "localhost.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    built = run_playbook(str(inventory), "bundle.yml", "-e", json.dumps({
        "bundle_dir": bundle, "bundle_gitlab_versions": ["18.2.1"], "bundle_registry": "http://" + REGISTRY,
        "bundle_repository": GATEWAY, "bundle_targets_wheels": False}))
    assert built.rc == 0, built.output
    return workdir, bundle


def test_the_namespace_reaches_nothing(tmp_path):
    probe = offline("ip -o link; {0} -c \"import socket; socket.create_connection(('{1}', {2}), 3)\"".format(
        BASE_PYTHON, *REGISTRY.split(":")), str(tmp_path))
    links = [line.split(":")[1].strip() for line in probe.stdout.splitlines() if line.strip()]
    assert links == ["lo"], probe.stdout
    assert probe.returncode != 0 and ("refused" in probe.stderr or "unreachable" in probe.stderr), probe.stderr


def test_the_control_node_is_set_up_from_the_bundle_with_no_index(carried_bundle):
    workdir, bundle = carried_bundle
    tarballs = glob.glob(os.path.join(bundle, "collection", "gitlab_duo-self_hosted-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    venv, collections, home = (str(workdir / name) for name in ("venv", "collections", "home"))
    os.makedirs(home, exist_ok=True)
    steps = offline("""
{python} -m venv {venv}
{venv}/bin/pip install --disable-pip-version-check --no-index --find-links {bundle}/wheels/control \
    -r {bundle}/requirements/control.txt
{venv}/bin/ansible-galaxy collection install {tarball} -p {collections}
export ANSIBLE_COLLECTIONS_PATH={collections} ANSIBLE_LOCAL_TEMP={home}/tmp ANSIBLE_NOCOLOR=1
{venv}/bin/ansible-doc gitlab_duo.self_hosted.gateway_image | head -5
{venv}/bin/ansible-playbook -i localhost, -c local -e ansible_python_interpreter={venv}/bin/python \
    -e bundle_dir={bundle} --tags verify gitlab_duo.self_hosted.bundle
""".format(python=BASE_PYTHON, venv=venv, bundle=bundle, tarball=tarballs[0], collections=collections, home=home), home)
    assert steps.returncode == 0, steps.stdout[-3000:] + steps.stderr[-3000:]
    # Everything came from the bundle: pip never looked anywhere else.
    assert "Looking in indexes" not in steps.stdout and "Downloading" not in steps.stdout, steps.stdout
    assert re.search(r"gitlab_duo\.self_hosted:\S+ was installed successfully", steps.stdout), steps.stdout
    assert "GITLAB_DUO.SELF_HOSTED.GATEWAY_IMAGE" in steps.stdout.upper()
    assert "failed=0" in steps.stdout and "unreachable=0" in steps.stdout, steps.stdout[-2000:]
    # The playbook that ran was the installed copy's, not this checkout's.
    installed = os.path.join(collections, "ansible_collections", "gitlab_duo", "self_hosted")
    assert os.path.isfile(os.path.join(installed, "playbooks", "bundle.yml"))
    assert not os.path.islink(installed) and os.path.realpath(installed) != os.path.realpath(REPO)


def test_a_wheel_missing_from_the_bundle_is_an_error_never_a_download(carried_bundle, tmp_path):
    workdir, bundle = carried_bundle
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for path in glob.glob(os.path.join(bundle, "wheels", "control", "*.whl")):
        if not os.path.basename(path).lower().startswith("jmespath"):
            os.link(path, str(wheels / os.path.basename(path)))
    steps = offline("{python} -m venv {venv}\n{venv}/bin/pip install --disable-pip-version-check --no-index "
                    "--find-links {wheels} -r {bundle}/requirements/control.txt".format(
                        python=BASE_PYTHON, venv=tmp_path / "venv", wheels=wheels, bundle=bundle), str(tmp_path))
    assert steps.returncode != 0
    assert "jmespath" in steps.stderr.lower() and "no matching distribution" in steps.stderr.lower(), steps.stderr
