"""Facts a gateway host must satisfy before install: memory, the Docker engine, ports (who holds them) and the
host name, with real sockets on loopback and a fake engine."""

import socket

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway import host_facts
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import FakeDocker, closed_port, module_params, silent_port


@pytest.fixture()
def listener():
    port, sock = silent_port()
    yield port
    sock.close()


@pytest.fixture()
def engine(monkeypatch):
    client = FakeDocker(local=["gw:1", "nginx:1"])
    monkeypatch.setattr(host_facts, "docker_client", lambda docker_host, timeout=60: client)
    return client


def test_memory_from_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemFree:  100 kB\nMemTotal:       16318480 kB\n")
    assert host_facts.memory_bytes(str(meminfo)) == 16318480 * 1024
    meminfo.write_text("MemFree:  100 kB\n")
    assert host_facts.memory_bytes(str(meminfo)) is None


def test_free_bytes_of_a_directory(tmp_path):
    assert host_facts.free_bytes(str(tmp_path)) > 0


def same_file_system(free, path):
    """Free bytes of ``path``'s file system, give or take what other processes of this machine write meanwhile."""
    return abs(free - host_facts.free_bytes(path)) < 256 * 1024 * 1024


def test_free_bytes_at_a_directory_not_made_yet_is_its_parents(tmp_path):
    assert same_file_system(host_facts.free_bytes_at(str(tmp_path / "a" / "b")), str(tmp_path))


def test_collect_reports_the_staging_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix://" + str(tmp_path / "no-engine.sock"))
    facts = host_facts.collect(module_params("gateway_host_facts", staging_dir=str(tmp_path / "staging")))
    staging = facts["staging"]
    assert (staging["path"], staging["exists"]) == (str(tmp_path / "staging"), False)
    assert same_file_system(staging["free_bytes"], str(tmp_path))
    assert "staging" not in host_facts.collect(module_params("gateway_host_facts"))


def test_port_in_use_sees_a_listener_and_not_a_free_port(listener):
    assert host_facts.port_in_use("127.0.0.1", listener) is True
    assert host_facts.port_in_use("127.0.0.1", closed_port()) is False


def test_hostname_facts(monkeypatch):
    local = host_facts.hostname_facts("localhost")
    assert local["is_local"] and local["resolves"] and "127.0.0.1" in local["addresses"]

    def no_such_name(*args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    assert host_facts.hostname_facts("aigw.example.com") == {"name": "aigw.example.com", "is_local": False,
                                                             "resolves": False, "addresses": []}


def test_port_owner_is_the_container_that_publishes_it(engine):
    engine.containers.create("gw:1", name="gitlab-ai-gateway", ports={"5052/tcp": ("0.0.0.0", 5052)})
    engine.containers.create("nginx:1", name="other-proxy", ports={"443/tcp": ("0.0.0.0", 443), "80/tcp": 8080})
    engine.containers.create("nginx:1", name="unpublished")
    assert host_facts.port_owner(engine, 5052) == "gitlab-ai-gateway"
    assert host_facts.port_owner(engine, "8080") == "other-proxy"
    assert host_facts.port_owner(engine, 9999) is None


def test_collect_with_the_engine(engine, listener):
    engine.containers.create("nginx:1", name="other-proxy", ports={"443/tcp": ("127.0.0.1", listener)})
    params = module_params("gateway_host_facts", port=listener, bind_address="127.0.0.1", proxy_ports=[listener],
                           proxy_bind_address="127.0.0.1", proxy_container_name="other-proxy", hostname="localhost")
    before = list(engine.calls)
    facts = host_facts.collect(params)
    assert facts["changed"] is False and facts["memory_bytes"] > 0
    assert facts["docker"]["reachable"] and facts["docker"]["version"] == "27.3.1"
    assert facts["docker"]["architecture"] == "x86_64" and facts["docker"]["root_dir"] == "/var/lib/docker"
    assert facts["port"] == {"number": listener, "in_use": True, "owner": "other-proxy", "ours": False}
    assert facts["proxy_ports"] == [{"number": listener, "in_use": True, "owner": "other-proxy", "ours": True}]
    assert facts["hostname"]["resolves"] and engine.calls == before


def test_collect_when_docker_is_down_still_checks_ports(monkeypatch, listener):
    def down(docker_host, timeout=60):
        raise DuoError("Cannot reach the Docker engine (connection refused). Fix: start Docker")

    monkeypatch.setattr(host_facts, "docker_client", down)
    facts = host_facts.collect(module_params("gateway_host_facts", port=listener, bind_address="127.0.0.1"))
    assert facts["docker"] == {"reachable": False,
                               "error": "Cannot reach the Docker engine (connection refused). Fix: start Docker"}
    assert facts["port"] == {"number": listener, "in_use": True, "owner": None, "ours": False}
    assert facts["proxy_ports"] == [] and "hostname" not in facts
