"""One gateway container diagnosed with the fake engine: a healthy one has only passed checks, a broken one the
findings that say why, and the excerpts for a support bundle carry no secret. Diagnosis changes nothing."""

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.environment import gateway_environment
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.jwt_keys import JWT_KEY_VARIABLES
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import gateway_diagnosis
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import FakeDocker, module_params

IMAGE = "registry.gitlab.com/gitlab-org/modelops/model-gateway:self-hosted-v18.2.1-ee"
GITLAB = "https://gitlab.example.com"
PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0w\n-----END PRIVATE KEY-----\n"


def gateway(client, running=True, **env):
    # A container started by hand may carry anything; keys that look secret go where gateway_container puts them.
    secret = {key: value for key, value in env.items() if "KEY" in key}
    plain = {key: value for key, value in env.items() if key not in secret}
    environment = gateway_environment(GITLAB, extra=plain, secret_extra=secret, allow_auth_bypass=True)
    environment.update(dict.fromkeys(JWT_KEY_VARIABLES, PEM))
    container = client.containers.create(IMAGE, name="gitlab-ai-gateway", environment=environment)
    if running:
        container.start()
    return container


@pytest.fixture()
def engine(monkeypatch):
    client = FakeDocker(local=[IMAGE])
    monkeypatch.setattr(gateway_diagnosis, "docker_client", lambda docker_host, timeout=60: client)
    return client


def params(**given):
    return module_params("gateway_diagnostics", {"gitlab_url": GITLAB, "gitlab_version": "18.2.4-ee"}, **given)


def test_no_container(engine):
    result = gateway_diagnosis.run(params())
    assert result["worst"] == "critical" and [item["id"] for item in result["findings"]] == ["gateway.container_missing"]
    assert result["findings"][0]["evidence"] == "no container named 'gitlab-ai-gateway'"


def test_a_healthy_gateway_passes_every_check(engine):
    gateway(engine)
    before = list(engine.changes())
    result = gateway_diagnosis.run(params(model_endpoints=[{"url": "http://vllm:8000/v1"}]))
    assert result["worst"] == "ok", [item for item in result["findings"] if item["severity"] != "ok"]
    assert {"gateway.container_running.ok", "gateway.custom_models_enabled.ok", "gateway.gitlab_url.ok",
            "gateway.version_matches.ok", "gateway.healthz.ok", "gateway.gitlab_reachable.ok"} <= {
                item["id"] for item in result["findings"]}
    commands = [" ".join(call[2]) for call in engine.calls if call[0] == "exec"]
    assert len(commands) == 5 and "http://127.0.0.1:5052/monitoring/healthz" in commands[0]
    assert GITLAB + "/api/v4/projects" in commands[1] and "http://vllm:8000/v1/models" in commands[4]
    assert engine.changes() == before and "excerpts" not in result


def test_a_broken_gateway_says_why(engine):
    engine.architecture = "aarch64"
    gateway(engine, running=False, AIGW_AUTH__BYPASS_EXTERNAL="true", AIGW_CUSTOM_MODELS__ENABLED="false")
    engine.container_logs = "INFO starting\nERROR [Errno 98] address already in use\n"
    result = gateway_diagnosis.run(params(gitlab_version="18.4.0-ee", gitlab_url="https://other.example.com",
                                          restored_auth_bypass=True))
    ids = [item["id"] for item in result["findings"]]
    assert ids[0] == "gateway.auth_bypass_restored" and result["worst"] == "critical"
    assert {"gateway.container_not_running", "gateway.port_conflict", "gateway.custom_models_disabled",
            "gateway.gitlab_url_mismatch", "gateway.auth_bypass_on", "gateway.version_skew",
            "gateway.platform_mismatch"} <= set(ids)
    assert not [call for call in engine.calls if call[0] == "exec"], "no commands inside a stopped container"


def test_failing_inside_checks(engine):
    gateway(engine)
    engine.exec_answers = {"/monitoring/healthz": (1, "wget: can't connect to remote host: Connection refused"),
                           "/api/v4/projects": (1, "wget: bad address 'gitlab.example.com'"),
                           "/tmp": (1, "touch: /tmp/.duo-write-test: Read-only file system")}
    result = gateway_diagnosis.run(params())
    found = {item["id"]: item["evidence"] for item in result["findings"]}
    assert found["gateway.healthz_failed"] == "wget: can't connect to remote host: Connection refused"
    assert found["gateway.gitlab_unreachable"] == GITLAB + "/api/v4/projects: wget: bad address 'gitlab.example.com'"
    assert "gateway.tmp_not_writable" in found and "gateway.hf_home_not_writable" not in found


def test_excerpts_carry_no_secret(engine):
    gateway(engine, OPENAI_API_KEY="sk-openai-1", AIGW_LOG_LEVEL="debug")
    engine.container_logs = "POST /v1/chat/agent Authorization: Bearer eyJ.secret.sig\n"
    result = gateway_diagnosis.run(params(collect_excerpts=True, inside_checks=False))
    excerpts = result["excerpts"]
    assert sorted(excerpts) == ["environment.txt", "gateway.log", "image.txt"]
    assert "OPENAI_API_KEY=<redacted>\n" in excerpts["environment.txt"]
    assert "AIGW_LOG_LEVEL=debug\n" in excerpts["environment.txt"] and "PRIVATE KEY" not in excerpts["environment.txt"]
    assert excerpts["gateway.log"] == "POST /v1/chat/agent Authorization: <redacted>\n"  # the whole value, any scheme
    assert excerpts["image.txt"] == "{0}\n{1}\n".format(IMAGE, engine.images.get(IMAGE).id)
    assert "sk-openai-1" not in repr(result) and "eyJ.secret.sig" not in repr(result)
