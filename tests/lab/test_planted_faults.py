"""Every finding is real: for each catalogue entry the other lab tests do not reach, plant its fault on a real part
(the GitLab stand-in's database and environment, a gateway container on the Docker engine, its log, llm.log) and
see the diagnostics name it. tests/unit/.../test_catalogue.py checks that each catalogue id is emitted by code and
named by a lab test."""

import glob
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from urllib.parse import urlsplit

import pytest

from .conftest import IMAGE, REPO, free_port, run_module
from .test_gateway_diagnostics import HEALTHY_ENV, diagnose, start

FAULTY_LLM_LOG = os.path.join(REPO, "lab", "gitlab", "samples", "llm-faults.log")


def plant(gitlab, **changes):
    """Change the stand-in's database (state.json) as a fault would."""
    path = os.path.join(gitlab.home, "state.json")
    with open(path) as handle:
        state = json.load(handle)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(state.get(key), dict):
            state[key].update(value)
        else:
            state[key] = value
    with open(path, "w") as handle:
        json.dump(state, handle)


def gitlab_diagnose(gitlab, tmp_path, llm_log=None, **extra):
    args = {"rails_command": [gitlab.rails], "rake_command": [gitlab.rake], "version_file": gitlab.version_file,
            "llm_log": llm_log or str(tmp_path / "no-such-llm.log")}
    args.update(extra)
    rc, result, output = run_module("gitlab_diagnostics", args)
    assert rc == 0, output
    return {item["id"]: item for item in result["findings"]}


def test_fresh_instance_no_url_no_log_and_an_aborted_verify_task(gitlab_factory, tmp_path):
    gitlab = gitlab_factory("18.9.0-ee")
    findings = gitlab_diagnose(gitlab, tmp_path, user="duo-user", run_rake=True)
    assert findings["gitlab.ai_gateway_url_unset"]["evidence"] == "ai_gateway_url is empty"
    assert "does not exist" in findings["gitlab.no_llm_log"]["evidence"]
    # GitLab's task raised at its URL check: the finding quotes the raised message, never a pass.
    aborted = findings["gitlab.verify_task_aborted"]
    assert aborted["evidence"] == "Set 'Ai::Setting.instance.ai_gateway_url' to point to your AI Gateway instance"
    assert "gitlab.verify_task.ok" not in findings


@pytest.mark.parametrize("version", ["17.10.0-ee", "18.9.0-ee"])
def test_user_access_calls_the_signature_of_the_version(gitlab_factory, tmp_path, version):
    """Before, the check passed service_name:, which current GitLab refuses (ArgumentError): every user was
    reported without access."""
    gitlab = gitlab_factory(version)
    plant(gitlab, ai_settings={"ai_gateway_url": "http://gateway.duo-lab.test:9"})
    findings = gitlab_diagnose(gitlab, tmp_path, user="duo-user")
    assert "gitlab.user_access.ok" in findings, sorted(findings)
    assert "gitlab.user_no_code_suggestions_access" not in findings


def test_a_check_that_cannot_run_says_so(gitlab_factory, tmp_path):
    gitlab = gitlab_factory("18.9.0-ee")
    plant(gitlab, ai_settings={"ai_gateway_url": "http://gateway.duo-lab.test:9"})
    log_dir = tmp_path / "llm.log"
    log_dir.mkdir()  # llm.log that cannot be read
    rc, result, output = run_module("gitlab_diagnostics", {
        "rails_command": [gitlab.rails], "version_file": gitlab.version_file, "llm_log": str(log_dir),
        "run_rake": True, "rake_command": ["/usr/bin/env", "no-such-gitlab-rake"]})
    assert rc == 0, output
    could_not = sorted(item["evidence"] for item in result["findings"] if item["id"] == "gitlab.check_could_not_run")
    assert len(could_not) == 2, could_not
    assert could_not[0].startswith("gitlab:duo:verify_self_hosted_setup: could not run: exit code 127")
    assert could_not[1].startswith("reading {0}: could not run: [Errno 21]".format(log_dir))
    findings = {item["id"]: item for item in result["findings"]}
    assert "gitlab.llm_log.ok" not in findings and "gitlab.verify_task.ok" not in findings
    assert "gitlab.verify_task_aborted" not in findings, "a task that never started is no verdict"


def test_agent_platform_url_with_a_scheme(gitlab_factory, tmp_path):
    gitlab = gitlab_factory("18.9.0-ee")
    plant(gitlab, ai_settings={"ai_gateway_url": "http://gateway.duo-lab.test:9",
                               "duo_agent_platform_service_url": "http://gateway.duo-lab.test:50052"})
    findings = gitlab_diagnose(gitlab, tmp_path)
    assert "host:port" in findings["gitlab.agent_platform_url_has_scheme"]["remedy"]


def test_unit_primitive_missing(gitlab_factory, tmp_path):
    gitlab = gitlab_factory("18.9.0-ee")
    plant(gitlab, ai_settings={"ai_gateway_url": "http://gateway.duo-lab.test:9"},
          unit_primitives=["code_suggestions", "duo_chat"])
    findings = gitlab_diagnose(gitlab, tmp_path, user="duo-user")
    assert "find_by_name(:self_hosted_models) is nil" in findings["gitlab.unit_primitive_missing"]["evidence"]
    # ... and GitLab's own authorization denies the user, as user_authorizable.rb does without the primitive.
    assert "allowed_to_use=False" in findings["gitlab.user_no_code_suggestions_access"]["evidence"]


def test_tcp_tls_proxy_and_agent_platform_from_gitlab(gitlab_factory, tmp_path):
    closed = free_port()
    gitlab = gitlab_factory("18.9.0-ee")
    plant(gitlab, ai_settings={"ai_gateway_url": "http://gateway.duo-lab.test:{0}".format(closed),
                               "duo_agent_platform_service_url": "gateway.duo-lab.test:{0}".format(closed)})
    findings = gitlab_diagnose(gitlab, tmp_path)
    assert "Connection refused" in findings["gitlab.gateway_tcp_failed"]["evidence"]
    assert "Connection refused" in findings["gitlab.agent_platform_unreachable"]["evidence"]
    assert "gitlab.gateway_unreachable" in findings

    # TLS to a port that speaks plain HTTP (the stand-in's own API): TCP passes, the handshake fails.
    plant(gitlab, ai_settings={"ai_gateway_url": "https://gitlab.duo-lab.test:{0}".format(gitlab.port),
                               "duo_agent_platform_service_url": None},
          env={"https_proxy": "http://user:proxy-secret@proxy.example.com:3128", "no_proxy": "localhost"})
    findings = gitlab_diagnose(gitlab, tmp_path)
    assert "gitlab.gateway_tcp.ok" in findings
    assert "SSL" in findings["gitlab.gateway_tls_failed"]["evidence"]
    behind = findings["gitlab.gateway_behind_proxy"]["evidence"]
    assert "gitlab.duo-lab.test" in behind and "proxy-secret" not in behind


@pytest.fixture
def proxy_without_upgrade():
    """A reverse proxy in front of GitLab configured as NGINX is by default: it forwards requests but not the
    hop-by-hop Upgrade and Connection headers (no proxy_set_header Upgrade/Connection). Yields a function that
    points it at an upstream URL and returns the proxy's URL."""
    import http.client
    import http.server

    upstream = {}

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            target = urlsplit(upstream["url"])
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
            headers = {name: value for name, value in self.headers.items()
                       if name.lower() not in ("upgrade", "connection", "host")}
            connection.request("GET", self.path, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def front(url):
        upstream["url"] = url
        return "http://gitlab.duo-lab.test:{0}".format(server.server_address[1])

    yield front
    server.shutdown()


def test_agent_platform_websocket_upgrade_through_a_proxy_that_drops_it(
        gitlab_factory, tmp_path, healthy_gateway, proxy_without_upgrade):
    """GitLab's own AgentPlatformWebsocketCheck (newer releases) from the diagnostics' Rails call: HTTP 101 when
    GitLab's external URL is GitLab itself; behind a proxy that drops the Upgrade headers, GitLab answers the plain
    GET and the finding names it; the verify task prints the same failure."""
    gitlab = gitlab_factory("18.10.0-ee")
    plant(gitlab, gitlab_url=gitlab.url,
          ai_settings={"ai_gateway_url": "http://gateway.duo-lab.test:{0}".format(healthy_gateway),
                       "duo_agent_platform_service_url": "gateway.duo-lab.test:{0}".format(healthy_gateway)})
    findings = gitlab_diagnose(gitlab, tmp_path, user="duo-user")
    assert findings["gitlab.agent_platform_websocket.ok"]["evidence"] == (
        "HTTP 101 at {0}/api/v4/ai/duo_workflows/ws".format(gitlab.url))

    fronted = proxy_without_upgrade(gitlab.url)
    plant(gitlab, gitlab_url=fronted)
    findings = gitlab_diagnose(gitlab, tmp_path, user="duo-user", run_rake=True)
    assert findings["gitlab.agent_platform_websocket_failed"]["evidence"] == (
        "{0}/api/v4/ai/duo_workflows/ws: HTTP 400 instead of 101: the Upgrade and Connection headers did not reach "
        "GitLab".format(fronted))
    assert "proxy_set_header Upgrade" in findings["gitlab.agent_platform_websocket_failed"]["remedy"]
    assert "WebSocket upgrade did not complete (HTTP 400 instead of 101)" in \
        findings["gitlab.verify_task_failed"]["evidence"]


def test_every_duo_chat_code_read_from_the_field_gitlab_records_it_in(gitlab_factory, tmp_path):
    gitlab = gitlab_factory("18.9.0-ee")
    log = tmp_path / "llm.log"
    shutil.copy(FAULTY_LLM_LOG, log)
    findings = gitlab_diagnose(gitlab, tmp_path, llm_log=str(log))
    for code in ("A1000", "A1001", "A1002", "A1003", "A1004", "A1005", "A1006", "A6000", "A9999", "G3001",
                 "G3002", "M3006"):
        assert "chat." + code in findings, code
    # One line mentions A1004 in its message only; one line records it in duo_chat_error_code.
    assert findings["chat.A1004"]["count"] == 1


# -- Gateway side ---------------------------------------------------------------------------------------------

def test_healthz_failing_and_gitlab_api_url_unset(lab, run_id):
    env = dict(HEALTHY_ENV, STANDIN_HEALTHZ_STATUS="503 Service Unavailable")
    env.pop("AIGW_GITLAB_API_URL")
    lab.containers.run(IMAGE + ":self-hosted-v18.2.10-ee", detach=True, name="duo-diag-" + run_id, environment=env,
                       labels={"gitlab_duo.test": run_id})
    findings, _result = diagnose(run_id)
    assert "503" in findings["gateway.healthz_failed"]["evidence"]
    assert "gateway.gitlab_api_url_unset" in findings


def test_read_only_tmp(lab, run_id):
    start(lab, run_id, read_only=True)
    findings, _result = diagnose(run_id)
    assert "/tmp" in findings["gateway.tmp_not_writable"]["evidence"]


def test_restarting_container(lab, run_id):
    container = start(lab, run_id, {"STANDIN_FAIL_START": "true"}, restart_policy={"Name": "always"})
    deadline = time.time() + 30
    while time.time() < deadline:
        container.reload()
        if container.attrs.get("RestartCount", 0) >= 1:
            break
        time.sleep(0.5)
    findings, _result = diagnose(run_id, inside_checks=False)
    assert "restart(s)" in findings["gateway.restarting"]["evidence"]


def test_oom_killed(lab, run_id):
    # A process that needs more memory than the container's limit: the kernel's OOM killer ends it.
    container = start(lab, run_id, mem_limit="8m", memswap_limit="8m",
                      entrypoint=["/bin/sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\000' a); sleep 30"])
    container.wait(timeout=60)
    container.reload()
    if not container.attrs["State"].get("OOMKilled"):
        pytest.skip("this engine's cgroups did not OOM-kill the container: {0}".format(container.attrs["State"]))
    findings, _result = diagnose(run_id, inside_checks=False)
    assert findings["gateway.oom_killed"]["evidence"] == "State.OOMKilled is true"


def test_host_network_port_conflict(lab, run_id, busy_port):
    start(lab, run_id, {"AIGW_FASTAPI__API_PORT": str(busy_port)}, network_mode="host")
    time.sleep(1)
    findings, _result = diagnose(run_id, inside_checks=False)
    assert "8082" in findings["gateway.port_conflict"]["evidence"]


def test_platform_mismatch(lab, run_id, tmp_path):
    """An image built for the other architecture (the stand-in's files, FROM scratch, so no emulation is needed to
    build it) on this engine."""
    host_arch = lab.info().get("Architecture")
    other = "linux/arm64" if host_arch in ("x86_64", "amd64") else "linux/amd64"
    source = lab.containers.create(IMAGE + ":self-hosted-v18.2.10-ee", labels={"gitlab_duo.test": run_id})
    reference = "duo-test-foreign-platform:" + run_id
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    try:
        export = subprocess.Popen(["docker", "export", source.id], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-C", str(rootfs), "-xf", "-"], stdin=export.stdout, check=True)
        export.wait()
        (tmp_path / "Dockerfile").write_text('FROM scratch\nCOPY rootfs/ /\nENTRYPOINT ["/bin/sh", "/standin/entrypoint.sh"]\n')
        subprocess.run(["docker", "build", "-q", "--platform", other, "-t", reference, str(tmp_path)], check=True,
                       capture_output=True)
        lab.containers.run(reference, detach=True, name="duo-diag-" + run_id, environment=HEALTHY_ENV,
                           labels={"gitlab_duo.test": run_id}, platform=other)
        findings, _result = diagnose(run_id, inside_checks=False)
        assert other.split("/")[1] in findings["gateway.platform_mismatch"]["evidence"]
    finally:
        source.remove(force=True)
        for container in lab.containers.list(all=True, filters={"label": "gitlab_duo.test=" + run_id}):
            container.remove(force=True)
        subprocess.run(["docker", "rmi", "-f", reference], capture_output=True, check=False)


def test_a_gateway_check_that_cannot_run_says_so(lab, run_id):
    container = start(lab, run_id)
    container.exec_run(["rm", "-f", "/bin/sh"])  # an image without a shell (distroless)
    _findings, result = diagnose(run_id)
    could_not = [item["evidence"] for item in result["findings"] if item["id"] == "gateway.check_could_not_run"]
    assert any(evidence.startswith("GET healthz inside the container: could not run: exit code 12")
               for evidence in could_not), could_not
    findings = {item["id"]: item for item in result["findings"]}
    assert "gateway.healthz_failed" not in findings, "no verdict from a check that did not run"


@pytest.mark.parametrize("line, finding_id", [
    ('{"level":"error","message":"JWTError: Not enough segments"}', "log.not_enough_segments"),
    ('{"level":"error","message":"401: Forbidden by auth provider"}', "log.forbidden_by_auth_provider"),
    ("[Errno 13] Permission denied: '/home/aigateway/.hf/hub'", "log.hf_permission_denied"),
    ("ValidationException: Invocation of model ID meta.llama3-3-70b-instruct-v1:0 with on-demand throughput isn't "
     "supported.", "log.bedrock_on_demand"),
])
def test_gateway_log_patterns(lab, run_id, line, finding_id):
    start(lab, run_id, entrypoint=["/bin/sh", "-c", "echo \"$0\"; exec sh /standin/entrypoint.sh", line])
    time.sleep(1)
    findings, _result = diagnose(run_id, inside_checks=False)
    assert findings[finding_id]["count"] == 1


# -- The gateway's own troubleshoot command, as each release prints it ---------------------------------------

def deep_container(lab, run_id, tag, port, **env):
    environment = dict(HEALTHY_ENV, AIGW_FASTAPI__API_PORT=str(port), AIGW_AUTH__BYPASS_EXTERNAL="true", **env)
    container = lab.containers.run(IMAGE + ":" + tag, detach=True, name="duo-deep-" + run_id, network_mode="host",
                                   environment=environment, labels={"gitlab_duo.test": run_id})
    deadline = time.time() + 15
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    return container


def test_a_failed_troubleshoot_run_quotes_the_exception_line(lab, run_id, gitlab_factory):
    gitlab = gitlab_factory("18.2.1-ee")
    port = free_port()
    deep_container(lab, run_id, "self-hosted-v18.2.10-ee", port,
                   AIGW_GITLAB_URL=gitlab.url, AIGW_GITLAB_API_URL=gitlab.url + "/api/v4/")
    args = {"name": "duo-deep-" + run_id, "endpoint": "localhost:{0}".format(port)}
    rc, result, output = run_module("gateway_deep_check", args)
    assert rc == 0, output
    findings = {item["id"]: item for item in result["findings"]}
    assert "gateway.deep_test.ok" in findings, (findings, result["output"])
    assert ">> GitLab API is accessible ✔" in result["output"]

    secret = "sk-planted-deep-key"
    rc, result, output = run_module("gateway_deep_check", dict(
        args, model_family="mixtral", model_endpoint="http://127.0.0.1:9/v1", api_key=secret))
    assert rc == 0, output
    evidence = {item["id"]: item for item in result["findings"]}["gateway.deep_test_failed"]["evidence"]
    assert evidence.startswith("RuntimeError: >> Failed to access the mixtral model."), evidence
    assert "Traceback" not in evidence and "status code: 500" in evidence
    assert secret not in output and secret not in json.dumps(result)


def test_the_deep_test_key_is_on_no_command_line_while_it_runs(lab, run_id, gitlab_factory, tmp_path):
    """The API key travels on the exec's standard input to a wrapper that sets the script's argv in-process: while
    the gateway's troubleshoot runs (paused inside), no process in the container (/proc/*/cmdline), no exec the
    engine shows (docker inspect of the exec) and no process on this host holds it; the script did get it."""
    gitlab = gitlab_factory("18.2.1-ee")
    port = free_port()
    secret = "sk-planted-{0}-cmdline-key".format(run_id)
    container = deep_container(lab, run_id, "self-hosted-v18.2.10-ee", port, STANDIN_TROUBLESHOOT_PAUSE="4",
                               AIGW_GITLAB_URL=gitlab.url, AIGW_GITLAB_API_URL=gitlab.url + "/api/v4/")
    # The key reaches the module as a variable (ansible's -e @file), so the harness's own command line lacks it too.
    variables = tmp_path / "key.json"
    variables.write_text(json.dumps({"planted_key": secret}))
    args = {"name": "duo-deep-" + run_id, "endpoint": "localhost:{0}".format(port), "model_family": "mixtral",
            "model_endpoint": "http://127.0.0.1:9/v1", "api_key": "{{ planted_key }}"}
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(
        answer=run_module("gateway_deep_check", args, "-e", "@" + str(variables))))
    runner.start()
    in_container, execs, on_host = [], {}, []
    listing = ["sh", "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' <\"$f\"; echo; done"]
    while runner.is_alive():
        in_container += container.exec_run(listing).output.decode("utf-8", "replace").splitlines()
        container.reload()
        for exec_id in container.attrs.get("ExecIDs") or []:
            execs[exec_id] = lab.api.exec_inspect(exec_id)
        for path in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                with open(path, "rb") as handle:
                    if secret.encode() in handle.read():
                        on_host.append(path)
            except OSError:
                continue
        time.sleep(0.2)
    runner.join()
    rc, result, output = outcome["answer"]
    assert rc == 0, output
    assert any("troubleshoot_selfhosted_installation" in line for line in in_container), "the run was not seen"
    assert [line for line in in_container if secret in line] == [], "a process in the container had the key"
    assert any("troubleshoot_selfhosted_installation" in json.dumps(item) for item in execs.values()), execs
    assert secret not in json.dumps(execs), "docker inspect of an exec showed the key"
    assert on_host == [], "a process on the host had the key on its command line"
    # The script had it: its failure message lists the parameters it was given (redacted on the way out).
    evidence = {item["id"]: item for item in result["findings"]}["gateway.deep_test_failed"]["evidence"]
    assert "api_key: <redacted>" in evidence and secret not in output


def test_model_families_follow_the_gateway_release(lab, run_id):
    port = free_port()
    deep_container(lab, run_id, "self-hosted-v18.10.0-ee", port)
    rc, _result, output = run_module("gateway_deep_check", {
        "name": "duo-deep-" + run_id, "endpoint": "localhost:{0}".format(port), "model_family": "claude_3",
        "model_endpoint": "http://127.0.0.1:9/v1"})
    assert rc != 0 and "model_family 'claude_3' is not offered by this gateway release" in output
    assert "mistral, mixtral, gpt, llama3" in output and "removed in 2026-02" in output


@pytest.fixture
def healthy_gateway():
    """An HTTP server answering /monitoring/healthz like the gateway; yields its port."""
    import http.server
    import threading

    class Healthz(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = b'{"status":"ok"}' if self.path == "/monitoring/healthz" else b'{"detail":"Not Found"}'
            self.send_response(200 if self.path == "/monitoring/healthz" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_verify_task_with_failed_marks_that_runs_to_its_summary(gitlab_factory, tmp_path, healthy_gateway):
    """The real task does not raise for an unreachable model or (newer releases) an unreachable Agent Platform
    service: it marks the line ✗ at its end (or start) and goes on to its summary."""
    closed = free_port()
    gitlab = gitlab_factory("18.10.0-ee")
    plant(gitlab, gitlab_url=gitlab.url,
          ai_settings={"ai_gateway_url": "http://gateway.duo-lab.test:{0}".format(healthy_gateway),
                       "duo_agent_platform_service_url": "gateway.duo-lab.test:{0}".format(closed)},
          self_hosted_models=[{"name": "mistral", "model": "mistral",
                               "endpoint": "http://gateway.duo-lab.test:{0}".format(closed)}],
          feature_settings=[{"feature": "code_completions", "provider": "self_hosted", "self_hosted_model": "mistral"}])
    findings = gitlab_diagnose(gitlab, tmp_path, user="duo-user", run_rake=True)
    evidence = findings["gitlab.verify_task_failed"]["evidence"]
    assert "Model endpoint failed: Errno::ECONNREFUSED" in evidence
    # The newer task's words (ee/lib/gitlab/duo/administration/verify_self_hosted_setup.rb, later snapshot).
    assert "GitLab Duo Agent Platform (gRPC) (gateway.duo-lab.test:{0}) unreachable".format(closed) in evidence
    assert "Duo Workflow Service is not reachable" in evidence
    assert "gitlab.verify_task_aborted" not in findings

    rc, result, output = run_module("gitlab_duo_verify", {"user": "duo-user", "rake_command": [gitlab.rake]})
    assert rc == 0 and result["aborted"] is False and result["ok"] is False, output
    assert result["counts"]["failed"] == 3 and result["summary"]["request_flow"]["status"] == "ERROR"
    assert result["summary"]["agent_platform_websocket"]["status"] == "OK"
    assert result["summary"]["duo_workflow_service"]["errors"] == ["14:failed to connect to all addresses"]
    sections = {check["section"] for check in result["checks"]}
    assert {"Checking AI Gateway accessibility", "Checking transport-level connectivity (TCP, TLS, proxy)",
            "Checking Duo Workflow Service connectivity", "Checking GitLab Duo Agent Platform WebSocket connectivity",
            "Testing request flow to configured models"} <= sections
