"""The playbooks across the fleet over SSH: two GitLab instances at different versions, each served by a gateway
on another host (NGINX in a container with an ACME certificate; NGINX under systemd with the fleet CA's)."""

import ssl

import pytest

from .conftest import fleetkit, run_playbook, ssh

PROXY_UNIT = "gitlab-ai-gateway-proxy"


@pytest.fixture(scope="module")
def scenario(fleet_lab, tmp_path_factory):
    """Prepared hosts and the inventory; the install itself is the first test's to watch."""
    workdir = tmp_path_factory.mktemp("fleet-playbooks")
    inventory, gitlabs = fleetkit.two_instances(fleet_lab, workdir / "reports", workdir / "inventory.yml")
    return {"inventory": inventory, "gitlab": gitlabs, "reports": workdir / "reports", "lab": fleet_lab}


def snapshot(scenario):
    """What a play could change: GitLab's settings, the gateway hosts' containers, the proxies' files."""
    lab = scenario["lab"]
    hosts = {name: lab.hosts[name] for name in ("node03", "sd01")}
    return {
        "gitlab": {name: gitlab.state for name, gitlab in scenario["gitlab"].items()},
        "containers": {name: sorted((c.name, c.id) for c in lab.docker(name).containers.list(all=True))
                       for name in hosts},
        # Configuration, keys, certificates and units; NGINX's runtime files and access log change with traffic.
        "files": {name: host.run("find /etc/gitlab-ai-gateway /etc/systemd/system \\( -path '*/nginx/run' -o "
                                 "-path '*/nginx/logs' \\) -prune -o -printf '%p %s %T@\\n' 2>/dev/null | sort",
                                 check=False).stdout.splitlines()
                  for name, host in hosts.items()},
    }


def test_prepare_hosts_installs_what_the_modules_need(scenario):
    inventory = scenario["inventory"]
    lab = scenario["lab"]
    assert ssh(lab.hosts["node03"], "python3 -c 'import docker'").returncode == 1, "the base already has it"
    first = run_playbook(inventory, "prepare_hosts.yml")
    assert first.rc == 0, first.output
    assert first.changed() > 0
    for name in ("node01", "node03", "sd01"):
        assert ssh(lab.hosts[name], "python3 -c 'import docker, requests, cryptography, acme'").returncode == 0
        trusted = ssh(lab.hosts[name], "openssl x509 -noout -subject -in /etc/ssl/certs/gitlab-duo-ca.pem", check=True)
        assert "duo fleet lab CA" in trusted.stdout
    again = run_playbook(inventory, "prepare_hosts.yml")
    assert again.rc == 0 and again.changed() == 0, again.output


def test_check_mode_on_a_new_fleet_changes_nothing(scenario):
    before = snapshot(scenario)
    preview = run_playbook(scenario["inventory"], "install.yml", "--check", "--diff")
    assert preview.rc == 0, preview.output
    assert '+    "ai_gateway_url": "https://node03.duo-fleet.test"' in preview.output
    assert '+    "ai_gateway_url": "https://sd01.duo-fleet.test:8443"' in preview.output
    assert snapshot(scenario) == before


def test_install_across_the_fleet(scenario):
    lab, gitlab = scenario["lab"], scenario["gitlab"]
    calls = {name: instance.runner_calls() for name, instance in gitlab.items()}
    result = run_playbook(scenario["inventory"], "install.yml")
    assert result.rc == 0, result.output

    # Each instance's gateway tracks that instance's version, on its own host's engine.
    gateway_a = lab.docker("node03").containers.get("gitlab-ai-gateway")
    gateway_b = lab.docker("sd01").containers.get("gitlab-ai-gateway")
    # Each runs the tag of its instance's version, pinned to the digest the registry gave for it.
    assert ":self-hosted-v18.2.10-ee@sha256:" in gateway_a.attrs["Config"]["Image"]
    assert ":self-hosted-v18.3.0-ee@sha256:" in gateway_b.attrs["Config"]["Image"]
    assert "AIGW_GITLAB_URL=http://node01.duo-fleet.test:8080" in gateway_a.attrs["Config"]["Env"]
    assert "AIGW_GITLAB_URL=http://node02.duo-fleet.test:8080" in gateway_b.attrs["Config"]["Env"]
    assert lab.docker("node03").containers.get("gitlab-ai-gateway-proxy").status == "running"
    assert gitlab["gitlab-a"].state["ai_settings"]["ai_gateway_url"] == "https://node03.duo-fleet.test"
    assert gitlab["gitlab-b"].state["ai_settings"]["ai_gateway_url"] == "https://sd01.duo-fleet.test:8443"
    # One Rails runner boot per instance (GitLab's own verification is a rake task, not a runner call).
    for name, instance in gitlab.items():
        assert instance.runner_calls() - calls[name] == 1, name

    # sd01: NGINX from Debian's package, under the proxy's own systemd unit, started by systemd.
    sd01 = lab.hosts["sd01"]
    assert ssh(sd01, "systemctl is-active " + PROXY_UNIT, check=True).stdout.strip() == "active"
    main_pid = ssh(sd01, "systemctl show -p MainPID --value " + PROXY_UNIT, check=True).stdout.strip()
    assert ssh(sd01, "ps -o ppid= -p " + main_pid, check=True).stdout.strip() == "1"
    assert ssh(sd01, "systemctl is-enabled " + PROXY_UNIT, check=True).stdout.strip() == "enabled"

    # Certificates as the control node sees them: ACME (the fleet's Pebble) on node03, the fleet CA's on sd01.
    assert "Pebble" in _issuer("node03.duo-fleet.test", 443)
    assert "duo fleet lab CA" in _issuer("sd01.duo-fleet.test", 8443)
    summary = (scenario["reports"] / "install" / "install-summary.md").read_text()
    assert "FAIL" not in summary and summary.count("| PASS |") == 10, summary


def test_rerun_and_check_mode_change_nothing_on_any_host(scenario):
    before = snapshot(scenario)
    again = run_playbook(scenario["inventory"], "install.yml")
    assert again.rc == 0 and again.changed() == 0, again.output
    preview = run_playbook(scenario["inventory"], "install.yml", "--check", "--diff")
    assert preview.rc == 0 and preview.changed() == 0, preview.output
    assert snapshot(scenario) == before


def test_troubleshoot_reports_each_instance_and_the_fleet(scenario):
    calls = {name: instance.runner_calls() for name, instance in scenario["gitlab"].items()}
    result = run_playbook(scenario["inventory"], "troubleshoot.yml")
    assert result.rc == 0 and result.changed() == 0, result.output
    reports = scenario["reports"] / "troubleshoot"
    fleet_md = (reports / "fleet.md").read_text()
    assert "| gitlab-a | INFO | 0 | 0 |" in fleet_md and "| gitlab-b | INFO | 0 | 0 |" in fleet_md, fleet_md
    for name, gateway in (("gitlab-a", "node03.duo-fleet.test"), ("gitlab-b", "sd01.duo-fleet.test")):
        report = (reports / (name + ".md")).read_text()
        assert "| {0} | gateway.gitlab_reachable |".format(gateway) in report, report
        assert "| {0} | gitlab.model_round_trip | the model answered through the gateway |".format(name) in report
    # The diagnostics run in one Rails boot per instance (the rake task is one more, troubleshoot_run_rake).
    for name, instance in scenario["gitlab"].items():
        assert instance.runner_calls() - calls[name] == 1, name


def test_verbose_logs_repair_reads_its_marker_on_the_gitlab_host(scenario):
    # An interrupted run turned verbose logs on and left the previous value (off) in its marker, on GitLab's host.
    gitlab = scenario["gitlab"]["gitlab-a"]
    marker = "/var/tmp/gitlab-duo-verbose-ai-logs.marker"
    state = gitlab.state
    state["ai_settings"]["enabled_instance_verbose_ai_logs"] = True
    gitlab.set_state(state)
    gitlab.host.run("echo False >" + marker)
    result = run_playbook(scenario["inventory"], "troubleshoot.yml", "--limit", "gitlab-a,node03.duo-fleet.test")
    assert result.rc == 0, result.output
    assert gitlab.state["ai_settings"]["enabled_instance_verbose_ai_logs"] is False
    assert gitlab.host.run("test -e " + marker, check=False).returncode == 1


def test_renew_reloads_the_proxy_only_when_due(scenario):
    lab = scenario["lab"]
    serial = _serial("node03.duo-fleet.test", 443)
    quiet = run_playbook(scenario["inventory"], "renew.yml")
    assert quiet.rc == 0 and quiet.changed() == 0, quiet.output
    # Every certificate counts as due when renew_before_days exceeds its lifetime.
    due = run_playbook(scenario["inventory"], "renew.yml", "-e", "tls_proxy_renew_before_days=100000")
    assert due.rc == 0, due.output
    assert due.recap()["node03.duo-fleet.test"]["changed"] == 2  # the certificate, then NGINX's reload
    assert due.recap()["sd01.duo-fleet.test"]["changed"] == 0  # a provided certificate is the owner's to renew
    assert _serial("node03.duo-fleet.test", 443) != serial, "NGINX still serves the old certificate"
    assert lab.docker("node03").containers.get("gitlab-ai-gateway-proxy").status == "running"


def _certificate(host, port):
    context = ssl.create_default_context(cafile=str(fleetkit.fleet.CA_DIR) + "/trusted.pem")
    import socket
    with socket.create_connection((host, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return tls.getpeercert()


def _issuer(host, port):
    return " ".join(value for part in _certificate(host, port)["issuer"] for _key, value in part)


def _serial(host, port):
    return _certificate(host, port)["serialNumber"]
