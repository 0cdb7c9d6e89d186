"""The gateway stand-in's slow stream and its concurrency, then the traffic tools (lab/traffic.py) and GitLab's
documented manual upgrade (lab/manual_upgrade.py) measured against it.

The stand-in is built from this checkout's lab/images/gateway into a private tag (``build_gateway_standin``), so a
change to it is tested without touching the registry's release tags, which other checkouts use. These tests do not
start the lab (no ``lab`` fixture): they need the Docker engine and, for the upgrade, the lab registry."""

import time
import uuid

import docker
import pytest
import requests

from labkit import build_gateway_standin, gateway_standin_digest
from manual_upgrade import documented_upgrade, run_options
from traffic import Poller, Stream

from .conftest import REGISTRY, free_port

AUTH = {"Authorization": "Bearer lab-token"}
PRIVATE_REPOSITORY = "duo-test/gateway-standin"


@pytest.fixture(scope="module")
def engine():
    client = docker.from_env()
    try:
        client.ping()
    except docker.errors.DockerException as error:
        pytest.skip("no Docker engine: {0}".format(error))
    yield client
    client.close()


@pytest.fixture(scope="module")
def image(engine):
    """This checkout's stand-in, built into a tag of its own; removed after the module."""
    tag = "{0}:{1}".format(PRIVATE_REPOSITORY, gateway_standin_digest())
    build_gateway_standin(engine, tag)
    yield tag
    engine.images.remove(tag, force=True)


@pytest.fixture
def run(engine):
    """A label value per test; its containers and network are removed afterwards, whatever happened."""
    value = "stream-" + uuid.uuid4().hex[:8]
    yield value
    for container in engine.containers.list(all=True, filters={"label": "gitlab_duo.test=" + value}):
        container.remove(force=True)
    for network in engine.networks.list(names=["duo-test-" + value]):
        network.remove()


def wait_healthy(url, seconds=15):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(url + "/monitoring/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "the stand-in did not answer on " + url
        time.sleep(0.1)


def start(engine, image, run, env=(), wait=True, **options):
    """A stand-in container published on a free loopback port; (container, base URL)."""
    port = free_port()
    options.setdefault("name", "duo-" + run + "-" + uuid.uuid4().hex[:4])
    container = engine.containers.run(image, detach=True, environment=list(env),
                                      ports={"5052/tcp": ("127.0.0.1", port)},
                                      labels={"gitlab_duo.test": run}, **options)
    url = "http://127.0.0.1:{0}".format(port)
    if wait:
        wait_healthy(url)
    return container, url


def logs(container):
    return container.logs().decode()


def test_a_stream_arrives_piece_by_piece_over_its_time(engine, image, run):
    container, url = start(engine, image, run)
    result = Stream(url, seconds=3, chunks=6, headers=AUTH).run()
    assert result.intact and result.status == 200 and result.error is None, result
    assert result.content_type.startswith("text/event-stream")
    assert (result.received, result.in_order, result.end_marker) == (6, True, True)
    assert 2.5 <= result.seconds < 8 and result.first_chunk_seconds < 1.5, result
    assert '"status":"200","stream":"6 chunks in 3s"' in logs(container)


def test_a_stream_needs_authorization_and_bounded_knobs(engine, image, run):
    container, url = start(engine, image, run)
    refused = Stream(url, seconds=1, chunks=2).run()
    assert refused.status == 401 and not refused.intact and refused.received == 0
    endpoint = url + "/v1/chat/agent?standin_seconds=121"
    answer = requests.post(endpoint, json={"stream": True}, headers=AUTH, timeout=5)
    assert answer.status_code == 422 and "standin_seconds 0-120" in answer.json()["detail"]
    answer = requests.post(url + "/v1/chat/agent?standin_chunks=x", json={"stream": True}, headers=AUTH, timeout=5)
    assert answer.status_code == 422
    # Without "stream": true the endpoint answers as before, query string or not.
    answer = requests.post(url + "/v1/chat/agent?standin_seconds=5", json={"model": "m"}, headers=AUTH, timeout=5)
    assert answer.status_code == 200 and answer.json()["response"] == "Hello from the AI gateway stand-in"
    assert '"path":"/v1/chat/agent?standin_seconds=121","status":"422"' in logs(container)


def test_a_client_that_goes_away_is_logged(engine, image, run):
    container, url = start(engine, image, run)
    with requests.post(url + "/v1/chat/agent?standin_chunks=20&standin_seconds=4", json={"stream": True},
                       headers=AUTH, stream=True, timeout=5) as answer:
        assert next(answer.iter_lines()) == b"chunk 1/20"
    deadline = time.monotonic() + 8
    while "client disconnected" not in logs(container):
        assert time.monotonic() < deadline, logs(container)
        time.sleep(0.2)


def test_a_long_stream_blocks_no_other_request(engine, image, run):
    """Concurrency: while a 20-second stream and a second one are in flight, health checks at 20 a second, the
    401 root and a chat request are all answered at once, and both streams still arrive intact."""
    _container, url = start(engine, image, run)
    first = Stream(url, seconds=20, chunks=40, headers=AUTH).start()
    second = Stream(url, seconds=6, chunks=6, headers=AUTH).start()
    time.sleep(1)
    with Poller(url + "/monitoring/healthz", rate=20, max_seconds=4) as poller:
        began = time.monotonic()
        root = requests.get(url + "/", timeout=5)
        chat = requests.post(url + "/v1/chat/agent", json={"model": "m"}, headers=AUTH, timeout=5)
        answered_in = time.monotonic() - began
        assert first.result is None and second.result is None  # both streams still running
        polled = poller.wait(10)
    assert first.result is None  # the 20-second stream is still in flight after the poll
    assert root.status_code == 401 and root.json() == {"error": "No authorization header presented"}
    assert chat.status_code == 200 and answered_in < 2
    assert polled.failed == 0 and polled.sent >= 50 and polled.longest_gap < 1, polled
    assert all(second["ok"] >= 10 for second in polled.per_second[:4]), polled.per_second
    assert first.wait(30).intact and second.wait(30).intact, (first.result, second.result)
    assert first.result.seconds >= 19.5


def test_existing_behaviour_is_kept(engine, image, run):
    """What the other lab tests rely on, on this build: health, the 401 root, the model checks, the switches."""
    container, url = start(engine, image, run)
    health = requests.get(url + "/monitoring/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert requests.get(url + "/monitoring/healthz?probe=1", timeout=5).status_code == 200
    assert requests.get(url + "/v1/chat/agent", timeout=5).status_code == 401
    agent = url + "/v1/chat/agent"
    assert requests.post(agent, json={"model_endpoint": "http://vllm:8000"}, headers=AUTH, timeout=5).status_code == 404
    assert requests.post(agent, json={"model_endpoint": "http://keyed:8000/v1"}, headers=AUTH,
                         timeout=5).status_code == 401
    assert requests.get(url + "/nowhere", headers=AUTH, timeout=5).status_code == 404
    text = logs(container)
    assert "Application startup complete" in text and '"path":"/monitoring/healthz","status":"200"' in text
    assert "litellm.NotFoundError: 404 Not Found for http://vllm:8000/chat/completions" in text

    _failing, failing_url = start(engine, image, run, env=["STANDIN_HEALTHZ_STATUS=503 Service Unavailable"],
                                  wait=False)
    deadline = time.monotonic() + 10
    while True:
        try:
            assert requests.get(failing_url + "/monitoring/healthz", timeout=1).status_code == 503
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    exits, _url = start(engine, image, run, env=["STANDIN_FAIL_START=true"], wait=False)
    assert exits.wait(timeout=10)["StatusCode"] == 1
    assert "stand-in told to fail at start-up" in logs(exits)


def test_a_release_that_gets_no_answer_from_its_model_is_otherwise_healthy(engine, image, run):
    """STANDIN_FAIL_MODEL=true: healthz 200 and the 401 root (it passes the health gate), but a model request with a
    valid-looking token fails as litellm reports a model that does not answer - what the upgrade's round trip catches."""
    container, url = start(engine, image, run, env=["STANDIN_FAIL_MODEL=true"])
    assert requests.get(url + "/", timeout=5).status_code == 401
    answer = requests.post(url + "/v1/chat/agent", json={"model": "mistral", "model_endpoint": "http://vllm:8000/v1"},
                           headers=AUTH, timeout=5)
    assert answer.status_code == 500 and "litellm.APIConnectionError" in answer.json()["detail"]
    assert "the model did not answer (STANDIN_FAIL_MODEL)" in logs(container)


@pytest.fixture
def pushed(engine, image):
    """The build pushed to a private repository of the lab registry (never a release tag), so the documented
    procedure's pull is real; its manifest is deleted afterwards."""
    reference = "{0}/{1}:{2}".format(REGISTRY, PRIVATE_REPOSITORY, gateway_standin_digest())
    engine.images.get(image).tag(reference)
    repository, tag = reference.rsplit(":", 1)
    errors = [line["error"] for line in engine.images.push(repository, tag, stream=True, decode=True) if "error" in line]
    assert not errors, errors
    yield reference
    manifest = "http://{0}/v2/{1}/manifests/".format(REGISTRY, PRIVATE_REPOSITORY)
    head = requests.head(manifest + tag, timeout=5, headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    if head.status_code == 200:
        requests.delete(manifest + head.headers["Docker-Content-Digest"], timeout=5)
    engine.images.remove(reference, force=True)


def test_the_documented_manual_upgrade_fails_requests(engine, image, run, pushed, tmp_path):
    """stop, rm, pull, run (GitLab's documented procedure) under a poller at 20 requests a second: requests fail
    and a stream in flight is cut, although the new container gets the same configuration."""
    engine.networks.create("duo-test-" + run)
    (tmp_path / "keys").mkdir()
    old, url = start(engine, image, run, env=["AIGW_GITLAB_URL=http://gitlab.duo-lab.test:8929", "STANDIN_MARK=1"],
                     network="duo-test-" + run, restart_policy={"Name": "unless-stopped"},
                     volumes=[str(tmp_path / "keys") + ":/home/aigateway/keys:ro"])
    old.reload()
    before = run_options(old.attrs, engine.images.get(old.attrs["Image"]).attrs)
    stream = Stream(url, seconds=4, chunks=8, headers=AUTH).start()
    with Poller(url + "/monitoring/healthz", rate=20, max_seconds=12) as poller:
        time.sleep(1)
        upgrade = documented_upgrade(engine, old.name, pushed)
        wait_healthy(url)
        time.sleep(1)
    polled = poller.result
    assert [step["step"] for step in upgrade["steps"]] == ["stop", "rm", "pull", "run"]
    assert polled.failed > 0 and polled.errors and polled.ok > 0, polled
    assert any(error["error"].startswith("ConnectionError") for error in polled.errors), polled.errors
    assert polled.longest_gap > 0.1, polled
    cut = stream.wait(10)
    assert not cut.intact and cut.received < 8, cut

    new = engine.containers.get(old.name)
    assert new.id != old.id and new.id == upgrade["container_id"] and new.attrs["Config"]["Image"] == pushed
    assert run_options(new.attrs, engine.images.get(new.attrs["Image"]).attrs) == before
    assert upgrade["options"] == before and "STANDIN_MARK=1" in before["environment"]


def test_the_same_poll_without_the_upgrade_counts_no_failure(engine, image, run, tmp_path):
    """The control of the test above: the same container and poll, nothing swapped."""
    engine.networks.create("duo-test-" + run)
    _old, url = start(engine, image, run, env=["AIGW_GITLAB_URL=http://gitlab.duo-lab.test:8929"],
                      network="duo-test-" + run, restart_policy={"Name": "unless-stopped"})
    stream = Stream(url, seconds=2, chunks=4, headers=AUTH).start()
    result = Poller(url + "/monitoring/healthz", rate=20, max_seconds=3).start().wait(10)
    assert result.failed == 0 and result.sent >= 50, result
    assert stream.wait(10).intact
