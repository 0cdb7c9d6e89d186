"""playbooks/troubleshoot.yml on the lab: a healthy install gives no warning or critical finding; then faults are
planted (in the container, in GitLab's database, in llm.log) and each is named with its remedy; secrets planted
in the inventory and the logs appear nowhere in the report or the play's output."""

import base64
import json
import os
import re
import shutil
import socket

from .conftest import REPO, free_port, run_module, run_playbook, write_inventory

FAULTY_LLM_LOG = os.path.join(REPO, "lab", "gitlab", "samples", "llm-faults.log")
MODEL_KEY = "sk-planted-inventory-model-key"


def setup(run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory()
    api_port = free_port()
    gateway = "duo-t-" + run_id
    llm_log = tmp_path / "llm.log"
    shutil.copy(os.path.join(REPO, "lab", "gitlab", "samples", "llm-healthy.log"), llm_log)
    inventory = write_inventory(
        tmp_path / "inventory.yml", gitlab, gateway, 0, run_id,
        # The gateway shares the host network, so it reaches the GitLab stand-in on loopback.
        ai_gateway_network_mode="host", ai_gateway_env={"AIGW_FASTAPI__API_PORT": str(api_port)},
        ai_gateway_url="http://gateway.duo-lab.test:{0}".format(api_port),
        ai_gateway_secret_env={"MODEL_API_KEY": MODEL_KEY})
    extra = ["-e", json.dumps({"troubleshoot_user": "duo-user", "troubleshoot_llm_log": str(llm_log),
                               "troubleshoot_report_dir": str(tmp_path / "troubleshoot"),
                               "troubleshoot_run_rake": True,
                               "troubleshoot_round_trip": {"model": "mistral",
                                                           "model_endpoint": "http://vllm.duo-lab.test:8000/v1"}})]
    installed = run_playbook(inventory, "install.yml")
    assert installed.rc == 0, installed.output
    return gitlab, gateway, inventory, extra, llm_log, api_port


def report(tmp_path, gitlab):
    with open(tmp_path / "troubleshoot" / (gitlab.name + ".json")) as handle:
        data = json.load(handle)
    return data, {item["id"]: item for item in data["findings"]}


def test_healthy_then_faults(lab, run_id, gitlab_factory, tmp_path):
    gitlab, gateway, inventory, extra, llm_log, api_port = setup(run_id, gitlab_factory, tmp_path)
    calls = gitlab.runner_calls()
    healthy = run_playbook(inventory, "troubleshoot.yml", *extra)
    assert healthy.rc == 0, healthy.output
    assert gitlab.runner_calls() - calls == 1, "one gitlab-rails runner call per instance (plus the rake task)"
    data, findings = report(tmp_path, gitlab)
    problems = {key: item["evidence"] for key, item in findings.items() if item["severity"] in ("critical", "warning")}
    assert problems == {}, problems
    assert data["worst"] in ("ok", "info") and healthy.changed() == 0
    assert "gitlab.model_round_trip.ok" in findings, "GitLab -> gateway -> model through GitLab's own client"

    # A vLLM endpoint without /v1: the round trip through the gateway answers 404.
    without_v1 = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(
        {"troubleshoot_round_trip": {"model": "mistral", "model_endpoint": "http://vllm.duo-lab.test:8000"}}))
    assert without_v1.rc == 0, without_v1.output
    _data, findings = report(tmp_path, gitlab)
    assert "HTTP 404" in findings["gitlab.model_round_trip_failed"]["evidence"]
    # ... and the gateway logged litellm's 404, which its log rules name (the gateway is checked first in a run).
    rc, diagnosis, _output = run_module("gateway_diagnostics", {"name": gateway})
    assert rc == 0 and "/v1" in {item["id"]: item for item in diagnosis["findings"]}["log.not_found_404"]["remedy"]
    assert (tmp_path / "troubleshoot" / "fleet.md").exists()

    # Plant faults: GitLab's database, the legacy variable, llm.log, and the gateway's environment.
    state_path = os.path.join(gitlab.home, "state.json")
    with open(state_path) as handle:
        state = json.load(handle)
    # (18.2 has no duo_agent_platform_service_url column: its scheme check is planted on 18.9 in test_planted_faults)
    state["ai_settings"].update(ai_gateway_url="http://old-gateway.example.com:5052")
    state["users"]["duo-user"]["code_suggestions"] = False
    state["feature_settings"] = []
    state["env"] = {"AI_GATEWAY_URL": "http://legacy.example.com", "CLOUD_CONNECTOR_SELF_SIGN_TOKENS": "1"}
    with open(state_path, "w") as handle:
        json.dump(state, handle)
    shutil.copy(FAULTY_LLM_LOG, llm_log)
    rc, _result, output = run_module("gateway_container", {
        "name": gateway, "image": lab.containers.get(gateway).attrs["Config"]["Image"],
        "gitlab_url": "http://gitlab.duo-lab.test:{0}".format(gitlab.port), "network_mode": "host",
        "env": {"AIGW_FASTAPI__API_PORT": str(api_port), "AIGW_AUTH__BYPASS_EXTERNAL": "true",
                "AIGW_FASTAPI__API_HOST": "127.0.0.1", "AIGW_CUSTOM_MODELS__ENABLED": "false"},
        "allow_auth_bypass": True, "jwt_keys_dir": str(tmp_path / ("keys-" + gateway)), "health_timeout": 20,
        "labels": {"gitlab_duo.test": run_id}})
    assert rc == 0, output

    faulty = run_playbook(inventory, "troubleshoot.yml", *extra)
    assert faulty.rc == 0, "troubleshoot fails only when asked"
    data, findings = report(tmp_path, gitlab)
    expected = {
        "gitlab.ai_gateway_url_mismatch": "install.yml",
        "gitlab.legacy_ai_gateway_url_env": "AI_GATEWAY_URL", "gitlab.self_sign_tokens_on": "never for production",
        "gitlab.user_no_code_suggestions_access": "seat",
        "gitlab.features_not_self_hosted": "Self-hosted models", "gitlab.verify_task_aborted": "message names",
        "gateway.auth_bypass_on": "never bypass", "gateway.custom_models_disabled": "AIGW_CUSTOM_MODELS__ENABLED=true",
        "log.unauthorized": "license", "log.connection_refused": "gateway container", "log.timeout": "timeout",
        "log.ssl_verify_failed": "trusted-certs", "chat.A1000": "60-600", "chat.A1001": "GitLab -> gateway",
        "chat.A1002": "gateway's logs", "chat.A1003": "DISABLE_STREAMING", "chat.A9999": "support",
    }
    for finding_id, remedy_words in expected.items():
        assert finding_id in findings, (finding_id, sorted(findings))
        assert remedy_words in findings[finding_id]["remedy"], (finding_id, findings[finding_id]["remedy"])
    assert findings["log.unauthorized"]["count"] == 2 and data["worst"] == "critical"
    # GitLab's task raised at its license step; the finding quotes what it raised.
    assert findings["gitlab.verify_task_aborted"]["evidence"].startswith(
        "License is correct, but user does not have access to code suggestions."), findings["gitlab.verify_task_aborted"]
    markdown = (tmp_path / "troubleshoot" / (gitlab.name + ".md")).read_text()
    assert "### CRITICAL: AIGW_AUTH__BYPASS_EXTERNAL is true" in markdown
    for secret in (MODEL_KEY, "glpat-planted-secret-token", "sk-planted-model-key", gitlab.admin_token):
        for path in (tmp_path / "troubleshoot").iterdir():
            assert secret not in path.read_text(), (secret, path)
        assert secret not in faulty.output

    failing = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", "troubleshoot_fail_on=critical")
    assert failing.rc != 0 and "Instances at critical or worse: " + gitlab.name in failing.output

    lab.containers.get(gateway).stop(timeout=1)
    stopped = run_playbook(inventory, "troubleshoot.yml", *extra)
    assert stopped.rc == 0
    _data, findings = report(tmp_path, gitlab)
    assert "gateway.container_not_running" in findings
    # GitLab's own GET from Rails, to the (planted) old URL
    assert "Failed to open TCP connection" in findings["gitlab.gateway_unreachable"]["evidence"]


def gateway_env(lab, name):
    return dict(item.split("=", 1) for item in lab.containers.get(name).attrs["Config"]["Env"])


def test_deep_test_bypass_is_always_restored(lab, run_id, gitlab_factory, tmp_path):
    gitlab, gateway, inventory, extra, _llm_log, api_port = setup(run_id, gitlab_factory, tmp_path)
    marker = tmp_path / ("keys-" + gateway) / "auth-bypass.marker"

    refused = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", '{"troubleshoot_deep_test": true}')
    assert refused.rc != 0 and "troubleshoot_allow_auth_bypass=true" in refused.output
    assert "AIGW_AUTH__BYPASS_EXTERNAL" not in gateway_env(lab, gateway) and not marker.exists()

    allowed = {"troubleshoot_deep_test": True, "troubleshoot_allow_auth_bypass": True,
               "troubleshoot_deep_test_api_key": "sk-planted-deep-test-key",
               "troubleshoot_deep_test_options": {"endpoint": "localhost:{0}".format(api_port)}}
    deep = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(allowed))
    assert deep.rc == 0, deep.output
    _data, findings = report(tmp_path, gitlab)
    assert "gateway.deep_test.ok" in findings, sorted(findings)
    assert "AIGW_AUTH__BYPASS_EXTERNAL" not in gateway_env(lab, gateway) and not marker.exists()
    assert "sk-planted-deep-test-key" not in deep.output

    # A vLLM endpoint without /v1: the model check fails and the gateway's /v1/chat/agent answers 404.
    failing = dict(allowed, troubleshoot_deep_test_options={
        "endpoint": "localhost:{0}".format(api_port), "model_family": "mixtral", "model_name": "mistral",
        "model_endpoint": "http://127.0.0.1:9"})
    deep = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(failing))
    assert deep.rc == 0, deep.output
    _data, findings = report(tmp_path, gitlab)
    evidence = findings["gateway.deep_test_failed"]["evidence"]
    assert evidence.startswith("RuntimeError: >> Failed to access the mixtral model."), evidence
    assert "model_endpoint: http://127.0.0.1:9" in evidence and "Traceback" not in evidence
    assert "404" in findings["gateway.model_via_gateway_failed"]["evidence"]
    assert "/v1" in findings["gateway.model_via_gateway_failed"]["remedy"]
    assert "AIGW_AUTH__BYPASS_EXTERNAL" not in gateway_env(lab, gateway) and not marker.exists()

    # An interrupted deep test: the gateway still bypasses authentication and the marker is there.
    rc, _result, output = run_module("gateway_container", {
        "name": gateway, "image": lab.containers.get(gateway).attrs["Config"]["Image"],
        "gitlab_url": "http://gitlab.duo-lab.test:{0}".format(gitlab.port), "network_mode": "host",
        "env": {"AIGW_FASTAPI__API_PORT": str(api_port), "AIGW_AUTH__BYPASS_EXTERNAL": "true",
                "AIGW_FASTAPI__API_HOST": "127.0.0.1"},
        "allow_auth_bypass": True, "jwt_keys_dir": str(tmp_path / ("keys-" + gateway)), "health_timeout": 20,
        "labels": {"gitlab_duo.test": run_id}})
    assert rc == 0, output
    marker.write_text("left by an interrupted run\n")
    repaired = run_playbook(inventory, "troubleshoot.yml", *extra)
    assert repaired.rc == 0, repaired.output
    _data, findings = report(tmp_path, gitlab)
    assert "gateway.auth_bypass_restored" in findings and "gateway.auth_bypass_on" not in findings
    assert "AIGW_AUTH__BYPASS_EXTERNAL" not in gateway_env(lab, gateway) and not marker.exists()


def test_deep_test_killed_while_bypassed_left_a_loopback_only_gateway_then_restored(lab, run_id, gitlab_factory,
                                                                                    tmp_path):
    """The play is killed (SIGKILL: no always: block) right after the gateway was restarted with the bypass: the
    bypassed gateway is published on 127.0.0.1 only (not reachable on the host's other addresses), and the next
    run restores authentication."""
    gitlab = gitlab_factory()
    gateway, port = "duo-t-" + run_id, free_port()
    # Published on every address, as by default in production.
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, gateway, port, run_id,
                                ai_gateway_bind_address="0.0.0.0")
    assert run_playbook(inventory, "install.yml").rc == 0
    extra = ["-e", json.dumps({"troubleshoot_report_dir": str(tmp_path / "troubleshoot")})]
    allowed = {"troubleshoot_deep_test": True, "troubleshoot_allow_auth_bypass": True}
    killed = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(allowed),
                          env=dict(KILL_AT, DUO_KILL_AT_TASK=": Run the AI Gateway container"))
    assert killed.rc != 0, killed.output
    container = lab.containers.get(gateway)
    assert gateway_env(lab, gateway)["AIGW_AUTH__BYPASS_EXTERNAL"] == "true", "killed while bypassed"
    assert [b["HostIp"] for b in container.attrs["HostConfig"]["PortBindings"]["5052/tcp"]] == ["127.0.0.1"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as route:
        route.connect(("10.255.255.255", 1))  # no packet is sent: this picks the host's own outward address
        outside = route.getsockname()[0]
    assert not outside.startswith("127.")
    with socket.socket() as probe:
        probe.settimeout(5)
        assert probe.connect_ex((outside, port)) != 0, "the bypassed gateway answered on a non-loopback address"
    repaired = run_playbook(inventory, "troubleshoot.yml", *extra)
    _data, findings = report(tmp_path, gitlab)
    assert "gateway.auth_bypass_restored" in findings and "gateway.auth_bypass_on" not in findings, repaired.output
    assert "AIGW_AUTH__BYPASS_EXTERNAL" not in gateway_env(lab, gateway)


def test_support_bundle_is_complete_and_redacted(lab, run_id, gitlab_factory, tmp_path):
    import tarfile
    gitlab, _gateway, inventory, extra, llm_log, _api_port = setup(run_id, gitlab_factory, tmp_path)
    shutil.copy(FAULTY_LLM_LOG, llm_log)
    result = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", '{"troubleshoot_bundle": true}', "-v")
    assert result.rc == 0, result.output
    bundles = list((tmp_path / "troubleshoot").glob("support-bundle-*.tar.gz"))
    assert len(bundles) == 1 and "Support bundle: " in result.output
    assert bundles[0].stat().st_mode & 0o777 == 0o600
    with tarfile.open(bundles[0]) as archive:
        files = {member.name.split("/", 1)[1]: archive.extractfile(member).read().decode()
                 for member in archive.getmembers()}
    names = set(files)
    assert {"ESCALATION.md", "fleet.md", gitlab.name + ".md", gitlab.name + ".json"} <= names
    assert "hosts/{0}/llm.log".format(gitlab.name) in names and "hosts/{0}/facts.json".format(gitlab.name) in names
    gateway_files = [name for name in names if name.startswith("hosts/gw-")]
    assert any(name.endswith("/environment.txt") for name in gateway_files)
    assert any(name.endswith("/gateway.log") for name in gateway_files)
    assert any(name.endswith("/versions.json") for name in gateway_files)
    environment = next(files[name] for name in gateway_files if name.endswith("/environment.txt"))
    assert "MODEL_API_KEY=<redacted>" in environment and "AIGW_SELF_SIGNED_JWT__SIGNING_KEY=<redacted>" in environment
    everything = "\n".join(files.values())
    for secret in (MODEL_KEY, "glpat-planted-secret-token", "sk-planted-model-key", gitlab.admin_token,
                   "BEGIN PRIVATE KEY"):
        assert secret not in everything, secret
        assert secret not in result.output, secret


def test_verbose_logs_on_for_the_run_then_set_back(lab, run_id, gitlab_factory, tmp_path):
    gitlab, _gateway, inventory, extra, _llm_log, _api_port = setup(run_id, gitlab_factory, tmp_path)
    marker = tmp_path / "verbose.marker"
    options = {"troubleshoot_verbose_logs": True, "troubleshoot_verbose_logs_marker": str(marker)}
    result = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(options))
    assert result.rc == 0, result.output
    _data, findings = report(tmp_path, gitlab)
    assert "gitlab.verbose_ai_logs_off" not in findings, "the checks ran while verbose logs were on"
    assert not gitlab.state["ai_settings"].get("enabled_instance_verbose_ai_logs") and not marker.exists()

    # An interrupted run: verbose logs still on, its marker says they were off before.
    state_path = os.path.join(gitlab.home, "state.json")
    with open(state_path) as handle:
        state = json.load(handle)
    state["ai_settings"]["enabled_instance_verbose_ai_logs"] = True
    with open(state_path, "w") as handle:
        json.dump(state, handle)
    marker.write_text("False\n")
    repaired = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(
        {"troubleshoot_verbose_logs_marker": str(marker)}))
    assert repaired.rc == 0, repaired.output
    _data, findings = report(tmp_path, gitlab)
    assert "gitlab.verbose_ai_logs_restored" in findings
    assert gitlab.state["ai_settings"]["enabled_instance_verbose_ai_logs"] is False and not marker.exists()


KILL_AT = {"ANSIBLE_CALLBACK_PLUGINS": os.path.join(os.path.dirname(__file__), "callback_plugins"),
           "ANSIBLE_CALLBACKS_ENABLED": "kill_at_task"}


def test_run_killed_right_after_verbose_logs_went_on_is_repaired_by_the_next(lab, run_id, gitlab_factory, tmp_path):
    """The marker is on the GitLab host before the setting changes: a play killed (SIGKILL, so no always: block)
    right after the setting went on leaves it, and the next run sets the setting back from it."""
    gitlab, _gateway, inventory, extra, _llm_log, _api_port = setup(run_id, gitlab_factory, tmp_path)
    marker = tmp_path / "verbose.marker"
    options = {"troubleshoot_verbose_logs": True, "troubleshoot_verbose_logs_marker": str(marker)}
    killed = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(options),
                          env=dict(KILL_AT, DUO_KILL_AT_TASK="(?i)verbose AI logs (set )?to true"))
    assert killed.rc != 0
    assert gitlab.state["ai_settings"].get("enabled_instance_verbose_ai_logs") is True, "killed after it went on"
    assert marker.read_text().strip() == "False"
    repaired = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(
        {"troubleshoot_verbose_logs_marker": str(marker)}))
    assert repaired.rc == 0, repaired.output
    _data, findings = report(tmp_path, gitlab)
    assert "gitlab.verbose_ai_logs_restored" in findings
    assert gitlab.state["ai_settings"]["enabled_instance_verbose_ai_logs"] is False and not marker.exists()


def test_round_trip_to_a_keyed_model_keeps_the_key_off_the_command_line(lab, run_id, gitlab_factory, tmp_path):
    gitlab, _gateway, inventory, extra, _llm_log, _api_port = setup(run_id, gitlab_factory, tmp_path)
    keyed = {"model": "mistral", "model_endpoint": "http://keyed-vllm.duo-lab.test:8000/v1"}

    without_key = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps({"troubleshoot_round_trip": keyed}))
    assert without_key.rc == 0, without_key.output
    _data, findings = report(tmp_path, gitlab)
    assert "HTTP 401" in findings["gitlab.model_round_trip_failed"]["evidence"]
    assert "model_api_key" in findings["gitlab.model_round_trip_failed"]["remedy"]

    secret = "sk-planted-round-trip-key"
    with_key = run_playbook(inventory, "troubleshoot.yml", *extra, "-e", json.dumps(
        {"troubleshoot_round_trip": dict(keyed, model_api_key=secret)}))
    assert with_key.rc == 0, with_key.output
    _data, findings = report(tmp_path, gitlab)
    assert "gitlab.model_round_trip.ok" in findings and "gitlab.model_round_trip_failed" not in findings
    # The key reached the gateway (it answered), but through the runner's standard input only.
    with open(os.path.join(gitlab.home, "runner-argv.log")) as handle:
        command_lines = handle.read()
    requests_sent = [json.loads(base64.b64decode(payload))
                     for payload in re.findall(r"strict_decode64\('([A-Za-z0-9+/=]+)'\)", command_lines)]
    last = requests_sent[-1]["round_trip"]
    assert last["model_endpoint"] == keyed["model_endpoint"] and last["api_key_on_stdin"] is True
    assert secret not in command_lines and all(secret not in json.dumps(item) for item in requests_sent)
    assert secret not in with_key.output
    for path in (tmp_path / "troubleshoot").iterdir():
        assert secret not in path.read_text(), path
