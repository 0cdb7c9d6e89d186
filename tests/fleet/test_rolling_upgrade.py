"""upgrade.yml across the fleet: each gateway follows its instance's GitLab version with no failed request behind
NGINX (a stream in flight at the switch completes), rolls back a release that is not healthy while the old one
serves, finishes an interrupted run, leaves a gateway that is ahead alone, restores settings a GitLab upgrade
cleared, and upgrades a pool of two gateways member by member (its NGINX on one of them, or alone on a host that runs
no gateway). Before traffic moves, GitLab asks a model through each new gateway with its own client; a release that
fails that round trip is rolled back. The documented stop/rm/pull/run is measured the same way for comparison."""

import contextlib
import json
import os
import signal
import time

import docker
import pytest
import requests
import yaml

from .conftest import fleet, fleetkit, run_playbook

# pylint: disable=wrong-import-position
from labkit import REGISTRY, build_gateway_standin, finish_playbook, gateway_standin_digest, start_playbook  # noqa: E402
from manual_upgrade import documented_upgrade  # noqa: E402
from traffic import Poller, Stream  # noqa: E402

GATEWAY = "gitlab-ai-gateway"
SURGE = GATEWAY + "-surge"
# NGINX's upstream when traffic is on the new gateway (NGINX in a container, one gateway: named per request). The new
# gateway's name is always in the configuration besides: the location that offers it for the model round trip.
ON_SURGE = "set $gateway_upstream http://{0}:5052;".format(SURGE)
TAG = ":self-hosted-v{0}-ee@sha256:"


@pytest.fixture(scope="module")
def upgrade_lab(fleet_lab, tmp_path_factory):
    """The two-instance fleet (GitLab 18.2.1 on node01 served by node03 behind NGINX in a container, GitLab
    18.3.0 on node02 served by sd01 behind NGINX under systemd), installed."""
    workdir = tmp_path_factory.mktemp("fleet-upgrade")
    inventory, gitlab = fleetkit.two_instances(fleet_lab, workdir / "reports", workdir / "inventory.yml")
    for playbook in ("prepare_hosts.yml", "install.yml"):
        result = run_playbook(inventory, playbook)
        assert result.rc == 0, result.output
    ca = os.path.join(fleet.CA_DIR, "trusted.pem")
    return {"lab": fleet_lab, "inventory": inventory, "gitlab": gitlab, "workdir": workdir, "ca": ca,
            "reports": workdir / "reports" / "upgrade",
            "urls": {"node03": "https://" + fleet_lab.hosts["node03"].fqdn,
                     "sd01": "https://{0}:8443".format(fleet_lab.hosts["sd01"].fqdn)}}


def gateway(lab, host, name=GATEWAY):
    containers = {c.name: c for c in lab["lab"].docker(host).containers.list(all=True)}
    return containers.get(name)


def declared(container):
    """What the upgrade must carry over: the variables and labels we set (not the image's), mounts, network,
    ports, restart policy."""
    attrs = container.attrs
    labels = attrs["Config"]["Labels"] or {}
    managed = labels.get("gitlab_duo.self_hosted.env_keys", "").split(",")
    env = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
    return {"env": {key: env.get(key) for key in managed},
            "labels": {key: value for key, value in labels.items() if key.startswith("gitlab_duo")},
            "binds": sorted(attrs["HostConfig"]["Binds"] or []),
            "network": attrs["HostConfig"]["NetworkMode"], "networks": sorted(attrs["NetworkSettings"]["Networks"]),
            "ports": attrs["HostConfig"]["PortBindings"], "restart": attrs["HostConfig"]["RestartPolicy"]}


def report(lab):
    with open(os.path.join(str(lab["reports"]), "upgrade.json")) as handle:
        return {row["host"].split(".")[0]: row for row in json.load(handle)["rows"]}


def poller(lab, host, seconds=300):
    return Poller(lab["urls"][host] + "/monitoring/healthz", rate=20, max_seconds=seconds, verify=lab["ca"],
                  timeout=5).start()


def wait_until(what, check, seconds=240, process=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError("the playbook ended before " + what)
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def with_host_vars(lab, name, changes):
    """A copy of the scenario's inventory with ``changes`` in gateway host ``name``'s variables."""
    with open(lab["inventory"]) as handle:
        inventory = yaml.safe_load(handle)
    hosts = inventory["all"]["children"]["fleet"]["children"]["ai_gateway"]["hosts"]
    hosts[lab["lab"].hosts[name].fqdn].update(changes)
    path = lab["workdir"] / "inventory-{0}.yml".format(len(os.listdir(str(lab["workdir"]))))
    with open(str(path), "w") as handle:
        yaml.safe_dump(inventory, handle, sort_keys=False)
    return str(path)


# A self-hosted model as GitLab's Admin area sets one up (ee/app/models/ai/self_hosted_model.rb), used by the code
# features: the upgrade's model round trip asks it through the new gateway. The fleet has no model server; the
# gateway stand-in answers for a model whose endpoint ends in /v1.
MODEL = {"name": "Mistral on vLLM", "model": "mistral", "endpoint": "http://vllm.duo-fleet.test:8000/v1"}


@contextlib.contextmanager
def self_hosted_model(*instances):
    """The instances have MODEL configured for the block (install.yml's verify task would ask the absent model server
    directly, so it goes again afterwards)."""
    for instance in instances:
        state = instance.state
        state["self_hosted_models"] = [MODEL]
        state["feature_settings"] = [dict(setting, self_hosted_model=MODEL["name"])
                                     for setting in state["feature_settings"]]
        instance.set_state(state)
    try:
        yield
    finally:
        for instance in instances:
            state = instance.state
            state.pop("self_hosted_models", None)
            state["feature_settings"] = [{key: value for key, value in setting.items() if key != "self_hosted_model"}
                                         for setting in state["feature_settings"]]
            instance.set_state(state)


def test_each_gateway_follows_its_instance_with_no_failed_request(upgrade_lab):
    lab, gitlab = upgrade_lab, upgrade_lab["gitlab"]
    before = {host: gateway(lab, host) for host in ("node03", "sd01")}
    gitlab["gitlab-a"].set_version("18.3.0-ee")
    gitlab["gitlab-b"].set_version("18.10.0-ee")
    # What GitLab 19.2's upgrade does to an instance: the AI settings are cleared.
    state = gitlab["gitlab-a"].state
    state["ai_settings"]["ai_gateway_url"] = None
    gitlab["gitlab-a"].set_state(state)
    calls = {name: instance.runner_calls() for name, instance in gitlab.items()}

    polls = {host: poller(lab, host) for host in ("node03", "sd01")}
    with self_hosted_model(gitlab["gitlab-a"], gitlab["gitlab-b"]):
        process = start_playbook(lab["inventory"], "upgrade.yml")
        # The moment the new gateway is started beside the old one, a 20-second answer begins to stream through
        # NGINX: it is in flight when NGINX offers the new gateway for the model round trip and when traffic moves,
        # and must end intact.
        wait_until("the new gateway beside the old one", lambda: gateway(lab, "node03", SURGE) is not None,
                   process=process)
        stream = Stream(lab["urls"]["node03"], seconds=20, headers={"Authorization": "Bearer fleet-test"},
                        verify=lab["ca"]).start()
        result = finish_playbook(process)
    streamed = stream.wait(60)
    seen = {host: poll.stop() for host, poll in polls.items()}
    assert result.rc == 0, result.output

    for host in ("node03", "sd01"):
        assert seen[host].failed == 0, (host, seen[host].as_dict())
        assert seen[host].ok > 100, (host, seen[host].as_dict())
    assert streamed.intact, streamed.as_dict()
    assert streamed.seconds >= 19, streamed.as_dict()

    after = {host: gateway(lab, host) for host in ("node03", "sd01")}
    assert TAG.format("18.3.0") in after["node03"].attrs["Config"]["Image"]
    assert TAG.format("18.10.0") in after["sd01"].attrs["Config"]["Image"]
    for host in ("node03", "sd01"):
        assert after[host].id != before[host].id
        assert declared(after[host]) == declared(before[host]), host
        assert gateway(lab, host, SURGE) is None
    rows = report(lab)
    assert rows["node03"]["result"] == "upgraded"
    assert rows["node03"]["tag_before"] == "self-hosted-v18.2.10-ee"
    assert rows["node03"]["tag_after"] == "self-hosted-v18.3.0-ee"
    assert rows["sd01"]["result"] == "upgraded"
    # Before traffic moved, GitLab asked its model through each new gateway (NGINX in a container on node03, from
    # Debian under systemd on sd01), with its own client: one more Rails boot per instance.
    for host in ("node03", "sd01"):
        assert "model round trip through the new gateway passed (mistral)" in rows[host]["why"], rows[host]
    assert {name: instance.runner_calls() - calls[name] for name, instance in gitlab.items()} == {
        "gitlab-a": 2, "gitlab-b": 2}, "one runner call to keep the settings, one for the round trip"
    # The gateway URL the GitLab upgrade cleared is back, and the play said so.
    assert gitlab["gitlab-a"].state["ai_settings"]["ai_gateway_url"] == lab["urls"]["node03"]
    assert "Restored after the GitLab upgrade: ai_gateway_url" in result.output


def test_a_second_run_changes_nothing(upgrade_lab):
    result = run_playbook(upgrade_lab["inventory"], "upgrade.yml")
    assert result.rc == 0, result.output
    assert result.changed() == 0, result.output
    assert {row["result"] for row in report(upgrade_lab).values()} == {"already_current"}


def test_check_mode_shows_each_hosts_planned_tag_and_changes_nothing(upgrade_lab):
    lab, gitlab = upgrade_lab, upgrade_lab["gitlab"]
    gitlab["gitlab-a"].set_version("18.10.0-ee")
    gitlab["gitlab-b"].set_version("19.2.0-ee")
    ids = {host: gateway(lab, host).id for host in ("node03", "sd01")}
    configs = {host: lab["lab"].hosts[host].run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout
               for host in ("node03", "sd01")}
    preview = run_playbook(lab["inventory"], "upgrade.yml", "--check", "--diff")
    assert preview.rc == 0, preview.output
    assert "self-hosted-v18.3.0-ee -> self-hosted-v18.10.0-ee" in preview.output
    assert "self-hosted-v18.10.0-ee -> self-hosted-v19.2.0-ee" in preview.output
    assert {host: gateway(lab, host).id for host in ids} == ids
    assert {host: lab["lab"].hosts[host].run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout
            for host in configs} == configs


def test_a_release_that_is_not_healthy_is_rolled_back_while_the_old_one_serves(upgrade_lab):
    """node03's new gateway never becomes healthy: traffic never moves, the new container goes, the old one
    serves throughout. Below upgrade_max_fail_percentage the rollout goes on: sd01 is upgraded."""
    lab = upgrade_lab
    old = gateway(lab, "node03")
    broken = with_host_vars(lab, "node03", {"ai_gateway_env": {"STANDIN_HEALTHZ_STATUS": "503 Service Unavailable"}})
    poll = poller(lab, "node03")
    result = run_playbook(broken, "upgrade.yml", "-e", "upgrade_serial=1", "-e", "upgrade_max_fail_percentage=50")
    seen = poll.stop()
    assert result.rc != 0, result.output
    assert seen.failed == 0, seen.as_dict()
    assert gateway(lab, "node03").id == old.id and gateway(lab, "node03").status == "running"
    assert gateway(lab, "node03", SURGE) is None
    rows = report(lab)
    assert rows["node03"]["result"] == "rolled_back", rows["node03"]
    assert "start the new gateway beside the old one failed" in rows["node03"]["why"]
    assert any("health check failing" in line for line in rows["node03"]["logs"]), rows["node03"]
    assert rows["sd01"]["result"] == "upgraded", rows["sd01"]
    assert TAG.format("19.2.0") in gateway(lab, "sd01").attrs["Config"]["Image"]


def test_a_release_that_fails_behind_nginx_is_rolled_back_after_the_switch(upgrade_lab):
    """The new gateway passes its own health check, then fails the check through NGINX: traffic goes back to the
    old gateway, which never stopped, and the new one is removed."""
    lab = upgrade_lab
    old = gateway(lab, "node03")
    flaky = with_host_vars(lab, "node03", {"ai_gateway_env": {"STANDIN_FAIL_BEHIND_PROXY": "true"}})
    result = run_playbook(flaky, "upgrade.yml")
    assert result.rc != 0, result.output
    assert gateway(lab, "node03").id == old.id and gateway(lab, "node03").status == "running"
    assert gateway(lab, "node03", SURGE) is None
    config = lab["lab"].hosts["node03"].run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout
    assert ON_SURGE not in config
    row = report(lab)["node03"]
    assert row["result"] == "rolled_back" and "check the new gateway through NGINX" in row["why"], row


@contextlib.contextmanager
def checkout_release(tag):
    """This checkout's gateway stand-in built as release ``tag`` and pushed to a private repository of the lab registry
    (the fleet's mirror pulls through from it): a fault the registry's own release tags, which other checkouts build,
    may not know is tested without touching them. Yields the repository; its manifest goes afterwards."""
    repository = "duo-test/gateway-standin-" + gateway_standin_digest()
    reference = "{0}/{1}:{2}".format(REGISTRY, repository, tag)
    engine = docker.from_env()
    build_gateway_standin(engine, reference, version=tag)
    errors = [line["error"] for line in engine.images.push(REGISTRY + "/" + repository, tag, stream=True, decode=True)
              if "error" in line]
    assert not errors, errors
    try:
        yield repository
    finally:
        manifest = "http://{0}/v2/{1}/manifests/".format(REGISTRY, repository)
        head = requests.head(manifest + tag, timeout=5,
                             headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        if head.status_code == 200:
            requests.delete(manifest + head.headers["Docker-Content-Digest"], timeout=5)
        engine.images.remove(reference, force=True)
        engine.close()


def test_a_release_whose_model_round_trip_fails_is_rolled_back_before_traffic_moves(upgrade_lab):
    """node03's new release is healthy (healthz 200, the 401 root) but gets no answer from the model: GitLab's own
    client, trying it through NGINX before traffic moves, sees the failure; the new gateway goes, NGINX's configuration
    never changed, and the old gateway served every request throughout."""
    lab, gitlab_a = upgrade_lab, upgrade_lab["gitlab"]["gitlab-a"]
    old = gateway(lab, "node03")
    config = lab["lab"].hosts["node03"].run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout
    calls = gitlab_a.runner_calls()
    with checkout_release("self-hosted-v18.10.0-ee") as repository, self_hosted_model(gitlab_a):
        no_model = with_host_vars(lab, "node03", {"ai_gateway_repository": repository,
                                                  "ai_gateway_env": {"STANDIN_FAIL_MODEL": "true"}})
        poll = poller(lab, "node03")
        result = run_playbook(no_model, "upgrade.yml")
        seen = poll.stop()
    assert result.rc != 0, result.output
    assert seen.failed == 0 and seen.ok > 20, seen.as_dict()
    assert gateway(lab, "node03").id == old.id and gateway(lab, "node03").status == "running"
    assert gateway(lab, "node03", SURGE) is None
    assert lab["lab"].hosts["node03"].run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout == config
    row = report(lab)["node03"]
    assert row["result"] == "rolled_back", row
    assert row["why"].startswith("try a model round trip through the new gateway (before traffic moves) failed: "
                                 "GitLab -> {0}/.duo-upgrade-trial -> model mistral: HTTP 500: ".format(
                                     lab["urls"]["node03"])), row
    assert "litellm.APIConnectionError" in row["why"] and "Rolled back: the old gateway serves." in row["why"], row
    assert gitlab_a.runner_calls() - calls == 2, "the settings, then the round trip"
    # The gateway's authentication was never weakened: no container ever ran with the bypass.
    assert "AIGW_AUTH__BYPASS_EXTERNAL" not in " ".join(gateway(lab, "node03").attrs["Config"]["Env"])


def test_an_interrupted_upgrade_is_finished_by_the_next_run(upgrade_lab):
    lab = upgrade_lab
    process = start_playbook(lab["inventory"], "upgrade.yml")
    wait_until("traffic on the new gateway", lambda: ON_SURGE in lab["lab"].hosts["node03"].run(
        "cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout, process=process)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert gateway(lab, "node03", SURGE) is not None  # killed half-way: traffic is on the new gateway

    poll = poller(lab, "node03")
    result = run_playbook(lab["inventory"], "upgrade.yml")
    seen = poll.stop()
    assert result.rc == 0, result.output
    assert seen.failed == 0, seen.as_dict()
    assert TAG.format("18.10.0") in gateway(lab, "node03").attrs["Config"]["Image"]
    assert gateway(lab, "node03", SURGE) is None
    assert ON_SURGE not in lab["lab"].hosts["node03"].run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout


def test_a_gateway_ahead_of_its_instance_is_reported_never_downgraded(upgrade_lab):
    lab, gitlab = upgrade_lab, upgrade_lab["gitlab"]
    gitlab["gitlab-a"].set_version("18.3.0-ee")
    running = gateway(lab, "node03").id
    result = run_playbook(lab["inventory"], "upgrade.yml")
    assert result.rc == 0, result.output
    assert gateway(lab, "node03").id == running
    row = report(lab)["node03"]
    assert row["result"] == "skipped" and row["why"].startswith("ahead: "), row
    gitlab["gitlab-a"].set_version("18.10.0-ee")


def test_the_documented_manual_upgrade_fails_requests(upgrade_lab):
    """GitLab's documented procedure (stop, rm, pull, run) behind the same NGINX, measured with the same poller:
    the failures it causes are what upgrade.yml avoids."""
    lab = upgrade_lab
    engine = lab["lab"].docker("node03")
    image = gateway(lab, "node03").attrs["Config"]["Image"]
    poll = poller(lab, "node03", seconds=60)
    time.sleep(1)
    done = documented_upgrade(engine, GATEWAY, image, pull=False)
    time.sleep(2)
    seen = poll.stop()
    print("documented stop/rm/pull/run: {0} of {1} requests failed, longest gap {2} s, {3}".format(
        seen.failed, seen.sent, seen.longest_gap, done["steps"]))
    assert seen.failed > 0, seen.as_dict()


def test_a_pool_of_two_upgrades_member_by_member_with_no_failed_request(upgrade_lab):
    lab, gitlab_a = upgrade_lab, upgrade_lab["gitlab"]["gitlab-a"]
    inventory = fleetkit.pool_of_two(lab["lab"], gitlab_a, lab["workdir"] / "reports", lab["workdir"] / "pool.yml",
                                     ai_gateway_expected_users=1000)
    installed = run_playbook(inventory, "install.yml")
    assert installed.rc == 0, installed.output
    # 1000 users: 7 requests/s, up to 420 in flight, 11 gateways of 40 by GitLab's figures; the pool has two.
    assert "WARNING: 2 gateway(s) serve this instance, fewer than the 11" in installed.output
    config = lab["lab"].hosts["node03"].run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout
    assert "server {0}:5052 max_fails=".format(lab["lab"].hosts["node02"].fqdn) in config
    assert "server gitlab-ai-gateway:5052 max_fails=" in config

    gitlab_a.set_version("19.2.0-ee")
    poll = poller(lab, "node03")
    result = run_playbook(inventory, "upgrade.yml")
    seen = poll.stop()
    assert result.rc == 0, result.output
    assert seen.failed == 0, seen.as_dict()
    assert "WARNING: 2 gateway(s) serve this instance, fewer than the 11" in result.output
    for host in ("node03", "node02"):
        assert TAG.format("19.2.0") in gateway(lab, host).attrs["Config"]["Image"], host
    rows = report(lab)
    assert rows["node03"]["result"] == rows["node02"]["result"] == "upgraded", rows
    # Member by member: the pool's play runs one host at a time.
    assert result.output.count("PLAY [Upgrade pools one member at a time]") == 2, result.output
    assert lab["lab"].hosts["node03"].run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout == config


def test_a_pool_behind_a_proxy_host_that_runs_no_gateway_upgrades_member_by_member(upgrade_lab):
    """NGINX alone on node01 (a host of the ai_gateway_proxy group, beside the GitLab stand-in) balances the gateways
    of node03 and node02; GitLab is given node01's URL. Each member leaves node01's upstream, is replaced, answers the
    model round trip through node01 and comes back; a member whose new release fails the round trip is put back on
    the release it ran before it rejoins. No request through node01 fails."""
    lab, gitlab_a = upgrade_lab, upgrade_lab["gitlab"]["gitlab-a"]
    node01 = lab["lab"].hosts["node01"]
    gitlab_a.set_version("18.10.0-ee")
    inventory = fleetkit.pool_behind_a_proxy_host(lab["lab"], gitlab_a, lab["workdir"] / "reports",
                                                  lab["workdir"] / "proxy-pool.yml")
    installed = run_playbook(inventory, "install.yml")
    assert installed.rc == 0, installed.output
    url = "https://" + node01.fqdn
    assert gitlab_a.state["ai_settings"]["ai_gateway_url"] == url
    config = node01.run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout
    for member in ("node03", "node02"):
        assert "server {0}:5052 max_fails=".format(lab["lab"].hosts[member].fqdn) in config
    assert "gitlab-ai-gateway:5052" not in config, "node01 runs no gateway of its own"
    assert not [c for c in lab["lab"].docker("node01").containers.list(all=True) if c.name == GATEWAY]

    gitlab_a.set_version("19.2.0-ee")
    before = gateway(lab, "node03").attrs["Config"]["Image"]
    # First node03's new release gets no answer from the model: out of node01's upstream, it fails the round trip
    # through node01, is put back on the release it ran, and rejoins; the rollout stops there (node02 is untouched).
    with checkout_release("self-hosted-v19.2.0-ee") as repository, self_hosted_model(gitlab_a):
        no_model = fleetkit.pool_behind_a_proxy_host(
            lab["lab"], gitlab_a, lab["workdir"] / "reports", lab["workdir"] / "proxy-pool-no-model.yml",
            member_vars={"node03": {"ai_gateway_repository": repository,
                                    "ai_gateway_env": {"STANDIN_FAIL_MODEL": "true"}}})
        poll = Poller(url + "/monitoring/healthz", rate=20, max_seconds=300, verify=lab["ca"], timeout=5).start()
        failed = run_playbook(no_model, "upgrade.yml")
        seen = poll.stop()
    assert failed.rc != 0, failed.output
    assert seen.failed == 0, seen.as_dict()
    row = report(lab)["node03"]
    assert row["result"] == "rolled_back", row
    assert row["why"].startswith("try a model round trip through the new release (before it rejoins the pool) failed: "
                                 "GitLab -> {0}/.duo-upgrade-trial -> model mistral: HTTP 500: ".format(url)), row
    assert gateway(lab, "node03").attrs["Config"]["Image"] == before, "put back on the release it ran"
    assert gateway(lab, "node03").status == "running"
    assert node01.run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout == config, "back in the pool"

    poll = Poller(url + "/monitoring/healthz", rate=20, max_seconds=300, verify=lab["ca"], timeout=5).start()
    with self_hosted_model(gitlab_a):
        result = run_playbook(inventory, "upgrade.yml")
    seen = poll.stop()
    assert result.rc == 0, result.output
    assert seen.failed == 0 and seen.ok > 100, seen.as_dict()
    for host in ("node03", "node02"):
        assert TAG.format("19.2.0") in gateway(lab, host).attrs["Config"]["Image"], host
    rows = report(lab)
    for host in ("node03", "node02"):
        assert rows[host]["result"] == "upgraded", rows[host]
        assert "model round trip through the new gateway passed (mistral)" in rows[host]["why"], rows[host]
    assert "node01" not in rows, "the proxy host is no gateway: no row of its own"
    assert result.output.count("PLAY [Upgrade pools one member at a time]") == 2, result.output
    assert node01.run("cat /etc/gitlab-ai-gateway/nginx/nginx.conf").stdout == config
    assert gitlab_a.state["application_settings"]["ai_gateway_url"] == url
