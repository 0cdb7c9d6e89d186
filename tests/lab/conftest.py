"""Fixtures for tests on the local lab: real Docker, the lab registry, GitLab stand-ins running real Ruby."""

import os
import socket
import sys
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "lab"))

# pylint: disable=wrong-import-position
from labkit import (  # noqa: E402  (lab/ is not a package)
    IMAGE, REGISTRY, REPO, VENV_BIN, GitLabStandin, free_port, gateway_host_vars, lab_up, run_module,
    run_playbook, write_inventory as write_hosts)

__all__ = ["IMAGE", "REGISTRY", "REPO", "VENV_BIN", "assert_runs_pinned_release", "free_port", "run_module",
           "run_playbook", "write_inventory"]


def assert_runs_pinned_release(lab, container, tag):
    """The container runs the lab registry's ``tag`` pinned to its digest (repo:tag@sha256:...), as gateway_release
    resolved it, and the Docker engine knows that digest for the image the container runs."""
    container.reload()
    name, _sep, digest = container.attrs["Config"]["Image"].partition("@")
    assert name == IMAGE + ":" + tag, container.attrs["Config"]["Image"]
    assert digest.startswith("sha256:"), container.attrs["Config"]["Image"]
    assert IMAGE + "@" + digest in lab.images.get(container.attrs["Image"]).attrs["RepoDigests"]


@pytest.fixture
def gitlab_factory(tmp_path):
    made = []

    def make(version="18.2.1-ee", name=None):
        instance = GitLabStandin(str(tmp_path / "lab"), name or "gitlab-" + uuid.uuid4().hex[:6], version)
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.stop()


@pytest.fixture
def busy_port():
    """A loopback port another process listens on, for as long as the test runs."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


@pytest.fixture(scope="session")
def lab():
    """The lab's Docker engine and registry; started by lab/lab.sh when they do not answer."""
    lab_up()
    import docker
    return docker.from_env()


@pytest.fixture
def run_id(lab):
    """A label value per test; every container carrying it is removed afterwards."""
    value = uuid.uuid4().hex[:8]
    yield value
    for container in lab.containers.list(all=True, filters={"label": "gitlab_duo.test=" + value}):
        container.remove(force=True)
    for network in lab.networks.list(names=["duo-test-" + value]):
        network.remove()


def write_inventory(path, gitlab, gateway_name, port, run, gitlab_vars=None, **gateway_vars):
    """An inventory with one GitLab stand-in and one gateway (unique container name and port)."""
    instance = gitlab.host_vars()
    instance.update(gitlab_vars or {})
    gateway = gateway_host_vars(gitlab, gateway_name, port, run, str(path.parent / ("keys-" + gateway_name)),
                                **gateway_vars)
    return write_hosts(path, {gitlab.name: instance}, {"gw-" + gateway_name: gateway},
                       verify_report_dir=str(path.parent / "reports"), verify_run_rake=True)
