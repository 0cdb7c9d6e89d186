"""The Docker layer: image references read and built, pull policies, find/remove/network with a fake engine, and
Docker's errors explained."""

import pytest
from docker.errors import APIError, DockerException

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils import _docker
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import FakeDocker

DIGEST = "sha256:" + "ab" * 32
IMAGE = "registry.gitlab.com/ai-assist/model-gateway:self-hosted-v18.2.1-ee"


@pytest.mark.parametrize("reference, expected", [
    ("registry.gitlab.com/group/gw:v1", ("registry.gitlab.com/group/gw", "v1")),
    ("localhost:5000/gw:v1", ("localhost:5000/gw", "v1")),
    ("localhost:5000/gw", ("localhost:5000/gw", None)),
    ("nginx", ("nginx", None)),
    ("localhost:5000/gw@" + DIGEST, ("localhost:5000/gw", DIGEST)),
    ("localhost:5000/gw:v1@" + DIGEST, ("localhost:5000/gw", DIGEST)),
])
def test_split_image(reference, expected):
    assert _docker.split_image(reference) == expected


@pytest.mark.parametrize("reference, tag", [
    ("localhost:5000/gw:v1@" + DIGEST, "v1"), ("localhost:5000/gw@" + DIGEST, None), ("gw:v2", "v2"),
    ("localhost:5000/gw", None)])
def test_image_tag(reference, tag):
    assert _docker.image_tag(reference) == tag


def test_image_reference_round_trips_through_split_image():
    pinned = _docker.image_reference("localhost:5000", "/group/gw/", "v1", DIGEST)
    assert pinned == "localhost:5000/group/gw:v1@" + DIGEST
    assert _docker.image_reference("registry.gitlab.com", "group/gw", "v1") == "registry.gitlab.com/group/gw:v1"
    assert _docker.split_image(pinned) == ("localhost:5000/group/gw", DIGEST) and _docker.image_tag(pinned) == "v1"


def test_missing_image_is_pulled_once():
    client = FakeDocker(registry=[IMAGE])
    image_id = _docker.ensure_image(client, IMAGE, "missing", platform="linux/amd64")
    assert image_id == client.images.get(IMAGE).id
    assert _docker.ensure_image(client, IMAGE, "missing") == image_id
    assert client.calls == [("pulled", IMAGE, "linux/amd64")]


def test_pull_always_pulls_a_present_image_but_not_in_check_mode():
    client = FakeDocker(local=[IMAGE], registry=[IMAGE])
    assert _docker.ensure_image(client, IMAGE, "always", check_mode=True) == client.images.get(IMAGE).id
    assert client.calls == []
    _docker.ensure_image(client, IMAGE, "always")
    assert client.calls == [("pulled", IMAGE, None)]


def test_check_mode_pulls_nothing_and_has_no_id_for_an_absent_image():
    client = FakeDocker(registry=[IMAGE])
    assert _docker.ensure_image(client, IMAGE, "missing", check_mode=True) is None
    assert client.calls == []


def test_a_digest_is_pulled_by_digest():
    pinned = "localhost:5000/gw@" + DIGEST
    client = FakeDocker(registry=[pinned])
    assert _docker.ensure_image(client, pinned) == client.images.get(pinned).id
    assert client.calls == [("pulled", pinned, None)]


def test_pull_never_refuses_an_absent_image_with_the_air_gap_fix():
    client = FakeDocker(registry=[IMAGE])
    with pytest.raises(DuoError) as info:
        _docker.ensure_image(client, IMAGE, "never")
    assert IMAGE in info.value.msg and "pull=never" in info.value.msg and "docker load" in info.value.msg
    assert client.calls == []
    client.images.add(IMAGE)
    assert _docker.ensure_image(client, IMAGE, "never") == client.images.get(IMAGE).id


def test_a_refused_pull_names_image_and_fix():
    with pytest.raises(DuoError) as info:
        _docker.ensure_image(FakeDocker(), IMAGE)
    assert info.value.msg.startswith("Cannot pull " + IMAGE) and "pull access denied" in info.value.msg
    assert "check registry access from this host" in info.value.msg


def test_credentials_go_with_the_pull_only_when_given():
    client = FakeDocker(registry=[IMAGE])
    _docker.ensure_image(client, IMAGE, "always")
    _docker.ensure_image(client, IMAGE, "always", auth=_docker.auth_config("duo-pull", "s3cret"))
    assert client.pull_auth == [None, {"username": "duo-pull", "password": "s3cret"}]
    assert _docker.auth_config(None, "ignored") is None and _docker.auth_config("", "") is None


@pytest.mark.parametrize("reference, registry", [
    ("mirror.example.com:5443/group/gw:v1", "mirror.example.com:5443"), ("10.0.0.5:5000/gw@" + DIGEST, "10.0.0.5:5000"),
    ("localhost/gw:v1", "localhost"), ("library/nginx:1.27", "docker.io"), ("nginx", "docker.io"),
])
def test_registry_of(reference, registry):
    assert _docker.registry_of(reference) == registry


@pytest.mark.parametrize("name, path", [
    ("registry.gitlab.com/group/gw", "group/gw"), ("docker.io/library/nginx", "library/nginx"),
    ("mirror:5443/duo/gw/", "duo/gw"), ("localhost/gw", "gw"), ("library/nginx", "library/nginx"), ("gw", "gw"),
])
def test_repository_path(name, path):
    assert _docker.repository_path(name) == path


@pytest.mark.parametrize("engine_says, expected", [
    ("Head https://m.example.com:5443/v2/gw/manifests/v1: unauthorized: authentication required",
     "the registry m.example.com:5443 refused the credentials of user 'duo-pull'"),
    ('Get "https://m.example.com:5443/v2/": x509: certificate signed by unknown authority',
     "this host's Docker engine does not trust the TLS certificate of m.example.com:5443"),
])
def test_a_pull_failure_says_what_to_set(engine_says, expected):
    image = "m.example.com:5443/gw:v1"
    error = _docker.pull_failure(image, APIError(engine_says + " (s3cret)"), _docker.auth_config("duo-pull", "s3cret"))
    assert error.msg.startswith("Cannot pull {0}: {1}".format(image, expected)) and "s3cret" not in error.msg
    assert error.details["registry"] == "m.example.com:5443"
    assert ("ai_gateway_registry_password" in error.msg) != ("/etc/docker/certs.d/m.example.com:5443/ca.crt" in error.msg)


def test_an_anonymous_pull_refused_says_credentials_are_needed():
    error = _docker.pull_failure("m.example.com/gw:v1", APIError("unauthorized: authentication required"))
    assert "refused an anonymous pull" in error.msg and "set registry_username and registry_password" in error.msg


def test_find_remove_and_network():
    client = FakeDocker(local=["nginx:1.27"])
    assert _docker.find(client, "proxy") is None and _docker.remove(client, "proxy") is False
    client.containers.create("nginx:1.27", name="proxy")
    assert _docker.find(client, "proxy").name == "proxy"
    assert _docker.remove(client, "proxy", check_mode=True) is True and _docker.find(client, "proxy") is not None
    assert _docker.remove(client, "proxy") is True and _docker.find(client, "proxy") is None
    _docker.ensure_network(client, "duo", check_mode=True)
    assert client.networks.list(names=["duo"]) == []
    _docker.ensure_network(client, "duo")
    _docker.ensure_network(client, "duo")
    assert [call for call in client.calls if call[0] == "network"] == [("network", "duo", "bridge")]


def test_unreachable_engine_says_how_to_start_it():
    with pytest.raises(DuoError) as info:
        _docker.docker_client("unix:///nonexistent/docker.sock", timeout=2)
    assert "Cannot reach the Docker engine" in info.value.msg and "systemctl start docker" in info.value.msg
    assert "DOCKER_HOST" in info.value.msg


@pytest.mark.parametrize("error, fix", [
    (APIError("driver failed programming external connectivity: Bind for 0.0.0.0:5052 failed: port is already "
              "allocated"), "another process or container uses that port. Fix: free it or choose another port."),
    (DockerException("listen tcp 0.0.0.0:443: bind: address already in use"), "Fix: free it or choose another port."),
    (APIError("image with reference gw was found but its platform (linux/arm64) does not match the specified "
              "platform (linux/amd64)"), "Fix: set platform=linux/amd64."),
])
def test_explain_adds_the_fix(error, fix):
    explained = _docker.explain(error)
    assert explained.startswith(str(error) + " - ") and explained.endswith(fix)


def test_explain_leaves_other_errors_alone():
    assert _docker.explain(APIError("no such network")) == "no such network"


def test_exec_with_input_sends_stdin_and_reads_the_framed_output():
    engine = FakeDocker(local=["gw:1"])
    container = engine.containers.create("gw:1", name="gw")
    engine.exec_answers = {"cat": (3, "out and err\n")}
    assert _docker.exec_with_input(container, ["cat"], b"secret on stdin\n") == (3, b"out and err\n")
    assert engine.calls[-1] == ("exec", "gw", ["cat"], b"secret on stdin\n")
