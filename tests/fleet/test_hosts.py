"""The fleet's hosts are separate machines: own root, engine, image store and network; reached over SSH."""

import json
import os
import urllib.request

import docker

from .conftest import fleet, ssh

GATEWAY_REF = "{0}/{1}:self-hosted-v18.2.1-ee".format(
    fleet.REGISTRY, "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway")


def test_each_docker_host_has_its_own_root_engine_and_image_store(fleet_lab):
    machine = docker.from_env()
    engines = {}
    for name in ("node01", "node02", "node03"):
        host = fleet_lab.hosts[name]
        assert ssh(host, "hostname", check=True).stdout.strip() == name
        # The machine's files are not there (pivot_root, not chroot): no trace of this checkout.
        assert ssh(host, "test -e " + fleet.REPO).returncode == 1
        info = fleet_lab.docker(name).info()
        engines[name] = info["ID"]
        assert info["ID"] != machine.info()["ID"]
    assert len(set(engines.values())) == 3
    # The GitLab hosts never pull: their image stores are as empty as a new host's, while the machine's is not.
    assert fleet_lab.docker("node02").images.list() == []
    assert machine.images.list()


def test_login_is_an_unprivileged_user_with_sudo_and_no_root_login(fleet_lab):
    host = fleet_lab.hosts["node01"]
    assert ssh(host, "id -u", check=True).stdout.strip() != "0"
    assert ssh(host, "sudo -n id -u", check=True).stdout.strip() == "0"
    root = fleet.subprocess.run(
        ["ssh", "-i", os.path.join(fleet.SSH_DIR, "id_ed25519"), "-o", "BatchMode=yes",
         "-o", "UserKnownHostsFile=" + os.path.join(fleet.SSH_DIR, "known_hosts"), "root@" + host.address, "true"],
        capture_output=True, text=True, check=False)
    assert root.returncode == 255 and "Permission denied" in root.stderr


def test_systemd_host_boots_systemd_and_borrows_an_engine(fleet_lab):
    host = fleet_lab.hosts["sd01"]
    assert ssh(host, "ps -p 1 -o comm=", check=True).stdout.strip() == "systemd"
    assert ssh(host, "systemctl is-active ssh.service", check=True).stdout.strip() == "active"
    # No Docker engine of its own (systemd-nspawn cannot run containers here), but one to talk to.
    assert ssh(host, "pgrep -x dockerd").returncode == 1
    assert ssh(host, "sudo docker info --format '{{.ID}}'", check=True).stdout.strip() == \
        fleet_lab.docker("sd01").info()["ID"]


def test_airgapped_host_cannot_reach_any_registry(fleet_lab):
    air, connected = fleet_lab.hosts["air01"], fleet_lab.hosts["node02"]
    assert ssh(air, "ip route get " + fleet.BRIDGE_ADDRESS).returncode != 0, "the air-gapped host has a route"
    pulled = ssh(air, "sudo timeout 60 docker pull " + GATEWAY_REF)
    assert pulled.returncode != 0
    assert "network is unreachable" in pulled.stderr, pulled.stderr
    assert fleet_lab.docker("air01").images.list() == []
    # The same pull works from a connected host: what fails is the network, not the reference.
    assert ssh(connected, "sudo docker pull -q " + GATEWAY_REF + " && sudo docker rmi -f " + GATEWAY_REF).returncode == 0


def test_gitlab_standin_runs_on_its_fleet_host(fleet_lab):
    # node03 (a gateway host in the other tests): the scenario's GitLab hosts keep their own Omnibus files.
    gitlab = fleet_lab.gitlab("node03", "gitlab-hosts-test", "18.4.2-ee", port=8181)
    host = fleet_lab.hosts["node03"]
    assert ssh(host, "cat /opt/gitlab/embedded/service/gitlab-rails/VERSION", check=True).stdout.strip() == "18.4.2-ee"
    assert not os.path.exists("/opt/gitlab/embedded/service/gitlab-rails/VERSION"), "written on the control node"
    runner = ssh(host, "sudo gitlab-rails runner 'puts Ai::Setting.instance.ai_gateway_url.inspect'", check=True)
    assert runner.stdout.strip() == "nil"
    assert gitlab.runner_calls() == 1
    request = urllib.request.Request(gitlab.url + "/api/v4/version", headers={"PRIVATE-TOKEN": gitlab.admin_token})
    with urllib.request.urlopen(request, timeout=10) as answer:  # on the host's own address, from the control node
        assert json.load(answer)["version"] == "18.4.2-ee"
