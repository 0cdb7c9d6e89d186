"""The deep test behind NGINX in a container (tls_proxy_mode container). The gateway sits on the proxy's Docker
network and publishes no port; while authentication is bypassed it binds 127.0.0.1 in its own network namespace,
so NGINX on the same network cannot reach it (502, or no answer: a short, announced interruption) and never serves
the bypassed gateway; afterwards the gateway is back as declared. A run killed while bypassed leaves a gateway
that nothing outside its container reaches, and the next run restores it (taking over the killed run's lease)."""

import json
import threading
import time

import requests

from .conftest import free_port, run_playbook, write_inventory
from .test_tls_proxy import DOMAIN, NO_RAKE, provided_certificate_vars
from .test_troubleshoot import KILL_AT, gateway_env, report

# What GitLab sends the gateway for Duo Chat, without the Authorization header: 401 from a gateway with
# authentication, 200 (an answer) from a bypassed one.
CHAT = {"prompt_components": [{"type": "string", "metadata": {"source": "string", "version": "string"},
                               "payload": {"content": "Hello", "provider": "litellm", "model": "mistral"}}],
        "stream": False}
DEEP = {"troubleshoot_deep_test": True, "troubleshoot_allow_auth_bypass": True,
        "troubleshoot_deep_test_api_key": "sk-planted-deep-test-key"}
NOT_SERVED = {502, 504, "no answer"}


class Through:
    """Unauthenticated chat requests through NGINX, one after another until stopped (at most 600 s), in a thread:
    every (status or "no answer", body) seen."""

    def __init__(self, url, ca):
        self.url, self.ca, self.seen = url + "/v1/chat/agent", ca, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        deadline = time.monotonic() + 600
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                answer = requests.post(self.url, json=CHAT, verify=self.ca, timeout=3)
                self.seen.append((answer.status_code, answer.text[:200]))
            except requests.RequestException as error:
                self.seen.append(("no answer", type(error).__name__))
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        self.thread.join(10)

    def statuses(self):
        return [status for status, _body in self.seen]


def chat_status(url, ca):
    try:
        return requests.post(url + "/v1/chat/agent", json=CHAT, verify=ca, timeout=3).status_code
    except requests.RequestException:
        return "no answer"


def until_authenticated_again(url, ca, seconds=30):
    """NGINX looks the gateway up through Docker's DNS per request (cached 10 s): the restored container is found."""
    deadline, seen = time.monotonic() + seconds, []
    while time.monotonic() < deadline:
        seen.append(chat_status(url, ca))
        if seen[-1] == 401:
            return seen
        time.sleep(0.5)
    raise AssertionError("NGINX never reached the restored gateway: {0}".format(seen[-10:]))


def proxied(run_id, gitlab_factory, tmp_path):
    """install.yml with NGINX in a container in front of the gateway (a provided certificate: no ACME here)."""
    gitlab = gitlab_factory()
    https_port = free_port()
    gateway = "duo-t-" + run_id
    variables, ca = provided_certificate_vars(tmp_path, run_id, https_port, tls_proxy_http_port=free_port())
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, gateway, 0, run_id, **variables)
    installed = run_playbook(inventory, "install.yml", "-e", "verify_ca_path=" + ca, "-e", NO_RAKE)
    assert installed.rc == 0, installed.output
    url = "https://{0}:{1}".format(DOMAIN, https_port)
    assert chat_status(url, ca) == 401
    extra = ["-e", json.dumps({"troubleshoot_report_dir": str(tmp_path / "troubleshoot")})]
    return gitlab, gateway, inventory, extra, url, ca


def assert_back_as_declared(lab, run_id, gateway, url, ca):
    container = lab.containers.get(gateway)
    env = gateway_env(lab, gateway)
    assert "AIGW_AUTH__BYPASS_EXTERNAL" not in env and "AIGW_FASTAPI__API_HOST" not in env, env
    assert container.status == "running"
    assert container.attrs["HostConfig"]["NetworkMode"] == "duo-test-" + run_id
    assert container.attrs["HostConfig"]["PortBindings"] in ({}, None), "the gateway must publish no port"
    until_authenticated_again(url, ca)


def test_deep_test_behind_a_container_proxy_never_serves_the_bypassed_gateway(lab, run_id, gitlab_factory, tmp_path):
    gitlab, gateway, inventory, extra, url, ca = proxied(run_id, gitlab_factory, tmp_path)
    before = lab.containers.get(gateway).id
    with Through(url, ca) as through:
        deep = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(DEEP))
    assert deep.rc == 0, deep.output
    assert "NGINX ({0}) answers 502 for the gateway until it is restarted without the bypass".format(url) \
        in " ".join(deep.output.split()), "the interruption is announced"
    assert "sk-planted-deep-test-key" not in deep.output

    statuses = through.statuses()
    assert 200 not in statuses, [seen for seen in through.seen if seen[0] == 200][:3]
    assert set(statuses) <= {401} | NOT_SERVED, sorted(set(map(str, statuses)))
    assert set(statuses) & NOT_SERVED, "the requests through NGINX never met the interruption: {0}".format(
        sorted(set(map(str, statuses))))

    # The gateway's own troubleshoot ran inside the bypassed gateway and reached it on its loopback (the script's
    # health step comes first); it stops at GitLab's API, which the lab serves on the host's loopback only, out of
    # reach of a container on the proxy's network.
    _data, findings = report(tmp_path, gitlab)
    evidence = findings["gateway.deep_test_failed"]["evidence"] if "gateway.deep_test_failed" in findings else ""
    assert "gateway.deep_test.ok" in findings or "Failed to connect to GitLab" in evidence, sorted(findings)
    assert "AI Gateway is not running" not in evidence
    assert "gateway.auth_bypass_on" not in findings

    assert lab.containers.get(gateway).id != before
    assert_back_as_declared(lab, run_id, gateway, url, ca)
    again = run_playbook(inventory, "install.yml", "-e", "verify_ca_path=" + ca, "-e", NO_RAKE)
    assert again.rc == 0 and again.changed() == 0, again.output


def test_killed_while_bypassed_behind_a_container_proxy_then_restored_by_the_next_run(lab, run_id, gitlab_factory,
                                                                                      tmp_path):
    """SIGKILL right after the gateway was restarted with the bypass (no always: block runs): the gateway answers
    inside its container only; NGINX on its network is refused (502) for longer than it caches the gateway's
    address, and never serves it; the next run restores it at once, taking over the killed run's lease."""
    gitlab, gateway, inventory, extra, url, ca = proxied(run_id, gitlab_factory, tmp_path)
    killed = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(DEEP),
                          env=dict(KILL_AT, DUO_KILL_AT_TASK=": Run the AI Gateway container"))
    assert killed.rc != 0, killed.output
    env = gateway_env(lab, gateway)
    assert env["AIGW_AUTH__BYPASS_EXTERNAL"] == "true" and env["AIGW_FASTAPI__API_HOST"] == "127.0.0.1"
    container = lab.containers.get(gateway)
    assert container.attrs["HostConfig"]["NetworkMode"] == "duo-test-" + run_id

    inside = container.exec_run(["wget", "-q", "-O", "-", "http://127.0.0.1:5052/monitoring/healthz"])
    assert inside.exit_code == 0 and b'"ok"' in inside.output, inside.output
    proxy = lab.containers.get("duo-proxy-" + run_id)
    reached = proxy.exec_run(["busybox", "timeout", "5", "wget", "-q", "-O", "-",
                              "http://{0}:5052/monitoring/healthz".format(gateway)])
    assert reached.exit_code != 0 and b"refused" in reached.output.lower(), reached.output

    seen, deadline = [], time.monotonic() + 15  # NGINX caches the gateway's address for 10 s
    while time.monotonic() < deadline:
        seen.append(chat_status(url, ca))
        time.sleep(0.2)
    assert set(seen) <= NOT_SERVED, sorted(set(map(str, seen)))
    assert 502 in seen, "NGINX looked the bypassed gateway up and was refused: {0}".format(sorted(set(map(str, seen))))

    # The killed run's lease names a process that is gone on this control node: taken over at once.
    repaired = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", "ai_gateway_lease_timeout=0")
    assert repaired.rc == 0, repaired.output
    _data, findings = report(tmp_path, gitlab)
    assert "gateway.auth_bypass_restored" in findings and "gateway.auth_bypass_on" not in findings
    assert_back_as_declared(lab, run_id, gateway, url, ca)
