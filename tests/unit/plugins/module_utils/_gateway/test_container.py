"""The gateway container's reconcile with a fake Docker engine (the SDK's own models and argument handling) and a
gateway on loopback for the health check: spec, observe, plan, masked diff, check mode, idempotence; the swap
(GatewayManager.replace) with the engine refusing each step in turn, its rollback, the repair of an interrupted
swap, and an old container that bypasses authentication removed, never started again; loopback only while
authentication is bypassed."""

import os
import stat

import pytest
from docker.errors import APIError

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway import container as gateway
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.container import (
    loopback_only_while_bypassed)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.environment import REDACTED
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.jwt_keys import JWT_KEY_VARIABLES
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import (
    Answer, FakeDocker, LoopbackHTTP, gateway_routes, module_params)

IMAGE = "registry.gitlab.com/gitlab-org/modelops/model-gateway:self-hosted-v18.2.1-ee"
NEWER = IMAGE.replace("18.2.1", "18.2.2")
MODEL_KEY = "sk-model-key-never-shown"


@pytest.fixture()
def gateway_up():
    with LoopbackHTTP(gateway_routes()) as server:
        yield server


@pytest.fixture()
def engine(monkeypatch, tmp_path):
    client = FakeDocker(registry=[IMAGE, NEWER])
    monkeypatch.setattr(gateway, "docker_client", lambda docker_host, timeout=60: client)
    monkeypatch.setattr(gateway, "lock_directory", lambda: str(tmp_path))
    return client


def params(health_url="http://127.0.0.1:9", **given):
    return module_params("gateway_container", {
        "image": IMAGE, "gitlab_url": "https://gitlab.example.com/", "manage_jwt_keys": False, "health_timeout": 3,
        "secret_env": {"AIGW_MODEL_API_KEY_CUSTOM": MODEL_KEY}, "health_url": health_url}, **given)


# -- the declaration ------------------------------------------------------------------------------------------

def test_desired_state_of_a_bridge_gateway():
    spec = gateway.build_spec(params(published_port=15052, bind_address="127.0.0.1", env={"X": 1}), None)
    want = spec.desired()
    assert want["ports"] == {"5052/tcp": [{"HostIp": "127.0.0.1", "HostPort": "15052"}]}
    assert (want["image"], want["network_mode"], want["restart_policy"], want["mounts"], want["running"]) == (
        IMAGE, "bridge", "always", [], True)
    assert want["env"]["AIGW_GITLAB_URL"] == "https://gitlab.example.com" and want["env"]["X"] == "1"
    assert want["env"]["AIGW_GITLAB_API_URL"] == "https://gitlab.example.com/api/v4/"
    assert spec.secret_names == ("AIGW_MODEL_API_KEY_CUSTOM",) + tuple(JWT_KEY_VARIABLES)


def test_host_network_publishes_no_port_and_moves_the_metrics_port():
    spec = gateway.build_spec(params(network_mode="host", env={"AIGW_FASTAPI__API_PORT": "6000"}), None)
    assert spec.published_port is None and spec.port_bindings() == {} and spec.container_port == 6000
    assert spec.env["AIGW_FASTAPI__METRICS_PORT"] == "8083"


def test_platform_follows_the_engine_architecture(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("PEM")
    spec = gateway.build_spec(params(ca_bundle=str(bundle)), FakeDocker(architecture="aarch64"))
    assert spec.platform == "linux/amd64"
    assert spec.binds == ["{0}:/etc/ssl/certs/gitlab-duo-ca-bundle.pem:ro".format(bundle)]
    assert spec.env["SSL_CERT_FILE"] == spec.env["REQUESTS_CA_BUNDLE"] == "/etc/ssl/certs/gitlab-duo-ca-bundle.pem"
    assert gateway.build_spec(params(), FakeDocker(architecture="x86_64")).platform is None


@pytest.mark.parametrize("given, field, words", [
    ({"network_mode": "host", "published_port": 5052}, "published_port", "remove published_port"),
    ({"published_port": 70000}, "published_port", "use a number from 1 to 65535"),
    ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle", "copy the PEM bundle there first"),
    ({"image": IMAGE.replace("self-hosted-v18.2.1-ee", "latest")}, "image", "pin the self-hosted-vX.Y.Z-ee tag"),
    ({"image": "registry.gitlab.com/gitlab-org/modelops/model-gateway"}, "image", "pin a release tag"),
    ({"gitlab_url": "gitlab.example.com"}, "gitlab_url", "write the full URL with its scheme"),
    ({"env": {"AIGW_AUTH__BYPASS_EXTERNAL": "true"}}, "env.AIGW_AUTH__BYPASS_EXTERNAL", "allow_auth_bypass=true"),
])
def test_bad_input_is_refused_before_docker_is_touched(engine, given, field, words):
    with pytest.raises(InputError) as info:
        gateway.reconcile(params(**given))
    assert info.value.details["field"] == field and info.value.msg.startswith(field + "=")
    assert words in info.value.msg and engine.calls == []


def test_plan_and_shown():
    spec = gateway.build_spec(params(env={"AIGW_LOG_LEVEL": "debug"},
                                     secret_env={"AIGW_MODEL_API_KEY_CUSTOM": MODEL_KEY, "OPENAI_API_KEY": "sk-openai"}),
                              None)
    after = spec.desired()
    assert gateway.plan(None, after) == ["container"]
    assert gateway.plan(after, after) == []
    assert gateway.plan(dict(after, running=False), after) == ["running"]
    assert gateway.plan(dict(after, image=NEWER, env={}), after) == ["image", "env"]
    masked = gateway.shown(after, spec)["env"]
    assert masked["AIGW_MODEL_API_KEY_CUSTOM"] == masked["OPENAI_API_KEY"] == REDACTED
    assert masked["AIGW_LOG_LEVEL"] == "debug" and after["env"]["OPENAI_API_KEY"] == "sk-openai"
    assert gateway.shown(None, spec) == {}


def test_observe_reads_back_what_create_declared(engine):
    spec = gateway.build_spec(params(network_mode="duo-net", restart_policy="unless-stopped"), None)
    manager = gateway.GatewayManager(engine, spec)
    manager.ensure_image()
    container = manager.create()
    observed = gateway.observe(engine.containers.get(spec.name), spec)
    assert observed == spec.desired(), "a container made from the spec must not look changed"
    assert "PATH" not in observed["env"], "variables the image sets are not ours to manage"
    assert container.labels[gateway.ENV_KEYS_LABEL] == ",".join(sorted(spec.env))
    assert ("network", "duo-net", "bridge") in engine.calls


# -- reconcile ------------------------------------------------------------------------------------------------

def test_check_mode_changes_nothing(engine, tmp_path):
    keys = tmp_path / "keys"
    result = gateway.reconcile(params(manage_jwt_keys=True, jwt_keys_dir=str(keys)), check_mode=True)
    assert result["changed"] and result["changes"] == ["container"]
    assert sorted(result["jwt_keys_generated"]) == sorted(JWT_KEY_VARIABLES)
    assert engine.calls == [] and not keys.exists()
    assert result["diff"]["before"] == {} and result["diff"]["after"]["env"]["AIGW_MODEL_API_KEY_CUSTOM"] == REDACTED
    assert all(result["diff"]["after"]["env"][name] == REDACTED for name in JWT_KEY_VARIABLES)
    assert MODEL_KEY not in repr(result) and "container" not in result


def test_create_then_nothing_to_do(engine, gateway_up):
    first = gateway.reconcile(params(gateway_up.url))
    assert first["changed"] and first["changes"] == ["container"] and first["health"]["ok"]
    assert [call[0] for call in engine.changes()] == ["pulled", "created", "running"]
    assert first["container"]["name"] == "gitlab-ai-gateway" and first["container"]["status"] == "running"
    assert first["container"]["image_id"] == engine.images.get(IMAGE).id
    assert MODEL_KEY not in repr(first)

    second = gateway.reconcile(params(gateway_up.url))
    assert not second["changed"] and second["changes"] == [] and second["health"]["ok"]
    assert second["diff"]["before"] == second["diff"]["after"]
    assert [call[0] for call in engine.changes()] == ["pulled", "created", "running"], "second run changed Docker"
    assert gateway.reconcile(params(gateway_up.url), check_mode=True)["changed"] is False


def test_a_changed_declaration_replaces_the_container(engine, gateway_up):
    gateway.reconcile(params(gateway_up.url))
    old_id = engine.containers.get("gitlab-ai-gateway").id
    checked = gateway.reconcile(params(gateway_up.url, image=NEWER, env={"AIGW_LOG_LEVEL": "debug"}), check_mode=True)
    assert checked["changed"] and checked["changes"] == ["image", "env"] and "pulled" not in repr(engine.calls[3:])
    result = gateway.reconcile(params(gateway_up.url, image=NEWER, env={"AIGW_LOG_LEVEL": "debug"}))
    assert result["changed"] and result["changes"] == ["image", "env"] and result["health"]["ok"]
    assert result["diff"]["before"]["image"] == IMAGE and result["diff"]["after"]["image"] == NEWER
    current = engine.containers.get("gitlab-ai-gateway")
    assert current.id != old_id and current.attrs["Config"]["Image"] == NEWER
    assert [container.name for container in engine.containers.list(all=True)] == ["gitlab-ai-gateway"]
    assert ("renamed", "gitlab-ai-gateway", "gitlab-ai-gateway-previous") in engine.calls


def test_a_stopped_container_is_started_not_replaced(engine, gateway_up):
    gateway.reconcile(params(gateway_up.url))
    engine.containers.get("gitlab-ai-gateway").stop()
    result = gateway.reconcile(params(gateway_up.url))
    assert result["changed"] and result["changes"] == ["running"]
    assert [call[0] for call in engine.changes()].count("created") == 1


def test_an_image_pulled_anew_under_the_same_tag_is_noticed(engine, gateway_up):
    gateway.reconcile(params(gateway_up.url))
    engine.images.get(IMAGE).attrs["Id"] = "sha256:" + "cd" * 32
    result = gateway.reconcile(params(gateway_up.url), check_mode=True)
    assert result["changed"] and result["changes"] == ["image_id"]


def test_unhealthy_replacement_puts_the_previous_container_back(engine, gateway_up):
    gateway.reconcile(params(gateway_up.url))
    old_id = engine.containers.get("gitlab-ai-gateway").id
    gateway_up.routes[("GET", "/monitoring/healthz")] = Answer(503, "starting")
    engine.container_logs = "boot\nusing key {0}\nERROR model unreachable\n".format(MODEL_KEY)
    with pytest.raises(DuoError) as info:
        gateway.reconcile(params(gateway_up.url, health_timeout=1, env={"AIGW_LOG_LEVEL": "debug"}))
    details = info.value.details
    assert "did not become healthy within 1 s" in info.value.msg and "HTTP 503, expected 200" in info.value.msg
    assert "The previous container was put back and started." in info.value.msg
    assert details["rolled_back"] and details["changed"] and details["step"] == "health"
    assert details["logs"] == ["boot", "using key <redacted>", "ERROR model unreachable"]
    restored = engine.containers.get("gitlab-ai-gateway")
    assert restored.id == old_id and restored.status == "running" and len(engine.containers.by_id) == 1


def test_an_interrupted_replacement_is_restored(engine, gateway_up):
    gateway.reconcile(params(gateway_up.url))
    engine.containers.get("gitlab-ai-gateway").rename("gitlab-ai-gateway-previous")
    result = gateway.reconcile(params(gateway_up.url))
    assert result["restored_interrupted"] and result["changed"] and result["changes"] == []
    assert engine.containers.get("gitlab-ai-gateway").status == "running"


def test_restarted_restarts_and_checks_health(engine, gateway_up):
    gateway.reconcile(params(gateway_up.url))
    result = gateway.reconcile(params(gateway_up.url, state="restarted"))
    assert result["changed"] and result["health"]["ok"] and engine.calls[-1] == ("restarted", "gitlab-ai-gateway")


def test_given_jwt_keys_are_kept_0600_and_never_shown(engine, gateway_up, tmp_path):
    keys = {name: "-----BEGIN PRIVATE KEY-----\n{0}\n-----END PRIVATE KEY-----\n".format(name)
            for name in JWT_KEY_VARIABLES}
    result = gateway.reconcile(params(gateway_up.url, manage_jwt_keys=True, jwt_keys_dir=str(tmp_path / "k"),
                                      jwt_keys=keys))
    assert result["jwt_keys_generated"] == [] and "PRIVATE KEY" not in repr(result)
    files = sorted(os.listdir(tmp_path / "k"))
    assert files == sorted(JWT_KEY_VARIABLES.values())
    assert {stat.S_IMODE(os.stat(tmp_path / "k" / name).st_mode) for name in files} == {0o600}
    env = dict(item.split("=", 1) for item in engine.containers.get("gitlab-ai-gateway").attrs["Config"]["Env"])
    assert all(env[name] == keys[name] for name in JWT_KEY_VARIABLES)


def test_absent_removes_and_check_mode_keeps(engine, gateway_up):
    gateway.reconcile(params(gateway_up.url))
    checked = gateway.reconcile(params(state="absent"), check_mode=True)
    assert checked["changed"] and engine.containers.by_id
    removed = gateway.reconcile(params(state="absent"))
    assert removed == {"changed": True, "changes": ["container"],
                       "diff": {"before": {"name": "gitlab-ai-gateway"}, "after": {}}}
    assert not engine.containers.by_id
    assert gateway.reconcile(params(state="absent"))["changed"] is False


def test_a_variable_dropped_from_the_declaration_replaces_the_container(engine, gateway_up):
    gateway.reconcile(params(gateway_up.url, env={"AIGW_LOG_LEVEL": "debug"}))
    result = gateway.reconcile(params(gateway_up.url), check_mode=True)
    assert result["changes"] == ["env"] and "AIGW_LOG_LEVEL" in result["diff"]["before"]["env"]
    assert "AIGW_LOG_LEVEL" not in result["diff"]["after"]["env"]


@pytest.mark.parametrize("given, expected", [
    ({"health_url": "http://gw.internal:5052/"}, "http://gw.internal:5052"),
    ({"health_url": None, "network_mode": "host"}, "http://127.0.0.1:5052"),
    ({"health_url": None, "published_port": 15052}, "http://127.0.0.1:15052"),
    ({"health_url": None, "published_port": 15052, "bind_address": "10.0.0.5"}, "http://10.0.0.5:15052"),
    ({"health_url": None, "published_port": 0, "network_mode": "duo-net"}, "http://172.18.0.2:5052"),
])
def test_health_url(engine, given, expected):
    spec = gateway.build_spec(params(**given), None)
    manager = gateway.GatewayManager(engine, spec)
    manager.ensure_image()
    assert manager.health_url(manager.create()) == expected


def test_no_way_to_reach_the_container_for_its_health(engine):
    spec = gateway.build_spec(params(health_url=None, published_port=0), None)
    manager = gateway.GatewayManager(engine, spec)
    manager.ensure_image()
    container = manager.create()
    engine.containers.by_id[container.id]["NetworkSettings"]["Networks"] = {"bridge": {"IPAddress": ""}}
    with pytest.raises(DuoError) as info:
        manager.health_url(container)
    assert info.value.msg == ("Cannot tell how to reach container gitlab-ai-gateway for its health check. Fix: "
                              "publish a port or set health_url.")


# -- the swap, one refused step at a time ---------------------------------------------------------------------

NAME, PREVIOUS = "gitlab-ai-gateway", "gitlab-ai-gateway-previous"
PORT_TAKEN = APIError("driver failed programming external connectivity on endpoint gitlab-ai-gateway: Bind for "
                      "0.0.0.0:5052 failed: port is already allocated")


def installed(engine, gateway_up, **given):
    """A healthy gateway from the declaration; its container id."""
    gateway.reconcile(params(gateway_up.url, **given))
    return engine.containers.get(NAME).id


def names(engine):
    return sorted(container.name for container in engine.containers.list(all=True))


def swap_fails(engine, gateway_up, **given):
    with pytest.raises(DuoError) as info:
        gateway.reconcile(params(gateway_up.url, image=NEWER, **given))
    return info.value


def test_a_refused_stop_changes_nothing(engine, gateway_up):
    old_id = installed(engine, gateway_up)
    engine.faults["stop"] = APIError("cannot stop container: permission denied")
    error = swap_fails(engine, gateway_up)
    assert error.details["step"] == "stop the old container" and "nothing was changed" in error.msg
    assert names(engine) == [NAME] and engine.containers.get(NAME).id == old_id
    assert engine.containers.get(NAME).status == "running"


def test_a_refused_rename_starts_the_old_container_again(engine, gateway_up):
    old_id = installed(engine, gateway_up)
    engine.faults["rename"] = APIError("Error when allocating new name: Conflict")
    error = swap_fails(engine, gateway_up)
    assert error.details["step"] == "rename the old container" and error.details["changed"]
    assert error.msg.endswith("The old container was started again.")
    assert names(engine) == [NAME] and engine.containers.get(NAME).id == old_id
    assert engine.containers.get(NAME).status == "running" and ("created", NAME) not in engine.calls[3:]


def test_a_refused_create_puts_the_previous_container_back(engine, gateway_up):
    old_id = installed(engine, gateway_up)
    engine.faults["create"] = APIError("No such image: " + NEWER)
    error = swap_fails(engine, gateway_up)
    assert error.details["step"] == "create" and error.details["rolled_back"] is True
    assert error.msg.endswith("The previous container was put back and started.")
    assert names(engine) == [NAME] and engine.containers.get(NAME).id == old_id
    assert engine.containers.get(NAME).status == "running"


def test_a_refused_start_removes_the_half_made_container_then_puts_the_previous_back(engine, gateway_up):
    old_id = installed(engine, gateway_up)
    engine.faults[("start", NAME)] = PORT_TAKEN
    error = swap_fails(engine, gateway_up)
    assert error.details["step"] == "start" and error.details["rolled_back"] is True
    assert "port is already allocated - another process or container uses that port" in error.msg
    assert "The half-made container was removed. The previous container was put back and started." in error.msg
    assert names(engine) == [NAME] and engine.containers.get(NAME).id == old_id
    # The half-made container went before the old one took its name back.
    order = [call for call in engine.changes() if call[0] in ("removed", "renamed")]
    assert order[-2:] == [("removed", NAME), ("renamed", PREVIOUS, NAME)]


def test_failed_health_removes_the_new_container_and_puts_the_previous_back(engine, gateway_up):
    old_id = installed(engine, gateway_up)
    gateway_up.routes[("GET", "/monitoring/healthz")] = Answer(503, "starting")
    error = swap_fails(engine, gateway_up, health_timeout=1)
    assert error.details["step"] == "health" and error.details["rolled_back"] is True
    assert error.details["health"]["ok"] is False and "logs" in error.details
    assert names(engine) == [NAME] and engine.containers.get(NAME).id == old_id
    assert engine.containers.get(NAME).attrs["Config"]["Image"] == IMAGE


def test_a_failed_rollback_keeps_the_previous_container_for_the_next_run(engine, gateway_up):
    old_id = installed(engine, gateway_up)
    engine.faults["create"] = APIError("No such image: " + NEWER)
    engine.faults[("rename", PREVIOUS)] = APIError("Cannot rename: the engine is shutting down")
    error = swap_fails(engine, gateway_up)
    assert error.details["rolled_back"] is False and "Rolling back failed (the previous container could not be " \
        "put back: Cannot rename: the engine is shutting down); the previous container is kept as " \
        "gitlab-ai-gateway-previous and the next run restores it." in error.msg
    assert names(engine) == [PREVIOUS], "the last known-good container is never deleted"
    repaired = gateway.reconcile(params(gateway_up.url))
    assert repaired["interrupted_repair"] == "restored_previous" and repaired["changes"] == []
    assert names(engine) == [NAME] and engine.containers.get(NAME).id == old_id


def test_previous_is_removed_only_after_health_and_a_refused_removal_is_finished_by_the_next_run(engine, gateway_up):
    installed(engine, gateway_up)
    engine.faults[("remove", PREVIOUS)] = APIError("removal of container gitlab-ai-gateway-previous is already in "
                                                   "progress")
    error = swap_fails(engine, gateway_up)
    assert error.details["step"] == "remove " + PREVIOUS and error.details["health"]["ok"] is True
    assert "the next run removes it, since gitlab-ai-gateway is healthy" in error.msg
    assert names(engine) == [NAME, PREVIOUS] and engine.containers.get(NAME).attrs["Config"]["Image"] == NEWER
    repaired = gateway.reconcile(params(gateway_up.url, image=NEWER))
    assert repaired["interrupted_repair"] == "removed_previous" and repaired["changes"] == []
    assert names(engine) == [NAME] and engine.containers.get(NAME).attrs["Config"]["Image"] == NEWER


def test_an_interrupted_swap_with_a_half_made_container_restores_the_previous(engine, gateway_up):
    old_id = installed(engine, gateway_up)
    old = engine.containers.get(NAME)
    old.stop()
    old.rename(PREVIOUS)
    engine.containers.create(IMAGE, name=NAME)  # created, never started: the run was killed here
    result = gateway.reconcile(params(gateway_up.url))
    assert result["interrupted_repair"] == "restored_previous" and result["changes"] == []
    assert names(engine) == [NAME] and engine.containers.get(NAME).id == old_id


BYPASSED = dict(env={"AIGW_AUTH__BYPASS_EXTERNAL": "true"}, allow_auth_bypass=True, bind_address="127.0.0.1")


def test_an_old_container_that_bypasses_authentication_is_removed_not_kept(engine, gateway_up):
    installed(engine, gateway_up, **BYPASSED)
    result = gateway.reconcile(params(gateway_up.url))
    assert "auth_bypass" in result["changes"] and result["health"]["ok"]
    swap = [call for call in engine.changes() if call[0] in ("removed", "renamed", "created")][-2:]
    assert swap == [("removed", NAME), ("created", NAME)], "the bypassed container was kept aside"
    assert names(engine) == [NAME]
    env = dict(item.split("=", 1) for item in engine.containers.get(NAME).attrs["Config"]["Env"])
    assert "AIGW_AUTH__BYPASS_EXTERNAL" not in env


def test_when_the_new_container_fails_after_a_bypassed_one_nothing_serves(engine, gateway_up):
    installed(engine, gateway_up, **BYPASSED)
    engine.faults[("start", NAME)] = PORT_TAKEN
    with pytest.raises(DuoError) as info:
        gateway.reconcile(params(gateway_up.url))
    assert info.value.details["rolled_back"] is False and info.value.details["step"] == "start"
    assert "ran with AIGW_AUTH__BYPASS_EXTERNAL" in info.value.msg and "no gateway serves" in info.value.msg
    assert names(engine) == [], "fail closed: the bypassed container is not started again"


def test_a_bypassed_previous_left_by_an_interrupted_run_is_removed_never_started(engine, gateway_up):
    installed(engine, gateway_up, **BYPASSED)
    old = engine.containers.get(NAME)
    old.stop()
    old.rename(PREVIOUS)
    result = gateway.reconcile(params(gateway_up.url))
    assert result["interrupted_repair"] == "removed_bypassing_previous" and result["health"]["ok"]
    assert ("running", PREVIOUS) not in engine.calls and names(engine) == [NAME]


# -- loopback only while bypassed ---------------------------------------------------------------------------

BYPASS = {"AIGW_AUTH__BYPASS_EXTERNAL": "true"}


@pytest.mark.parametrize("env, network, port, bind, field", [
    (BYPASS, "bridge", 5052, "0.0.0.0", "bind_address"),
    (BYPASS, "bridge", 5052, "10.0.0.5", "bind_address"),
    ({"aigw_auth": '{"bypass_external": "yes"}'}, "bridge", 5052, "::", "bind_address"),
    (BYPASS, "host", None, "0.0.0.0", "env.AIGW_FASTAPI__API_HOST"),
    (dict(BYPASS, AIGW_FASTAPI__API_HOST="0.0.0.0"), "host", None, "0.0.0.0", "env.AIGW_FASTAPI__API_HOST"),
    # On a user-defined network (the TLS proxy's) NGINX and every container there would reach it: its own API host
    # must be loopback, read as the gateway reads it (any case, a JSON AIGW_FASTAPI, every spelling given).
    (BYPASS, "gitlab-ai-gateway", None, "0.0.0.0", "env.AIGW_FASTAPI__API_HOST"),
    (dict(BYPASS, AIGW_FASTAPI__API_HOST="0.0.0.0"), "duo-net", None, "0.0.0.0", "env.AIGW_FASTAPI__API_HOST"),
    (dict(BYPASS, AIGW_FASTAPI__API_HOST="localhost"), "duo-net", None, "0.0.0.0", "env.AIGW_FASTAPI__API_HOST"),
    (dict(BYPASS, AIGW_FASTAPI='{"api_host": "0.0.0.0"}'), "duo-net", None, "0.0.0.0", "env.AIGW_FASTAPI__API_HOST"),
    (dict(BYPASS, AIGW_FASTAPI__API_HOST="127.0.0.1", aigw_fastapi__api_host="10.0.0.5"), "duo-net", None, "0.0.0.0",
     "env.AIGW_FASTAPI__API_HOST"),
    # In another container's network namespace its loopback is that container's too.
    (dict(BYPASS, AIGW_FASTAPI__API_HOST="127.0.0.1"), "container:nginx", None, "0.0.0.0", "network_mode"),
])
def test_a_bypassed_gateway_must_listen_on_loopback_only(env, network, port, bind, field):
    with pytest.raises(InputError) as info:
        loopback_only_while_bypassed(env, network, port, bind)
    assert info.value.details["field"] == field and "loopback only" in info.value.msg


@pytest.mark.parametrize("env, network, port, bind", [
    (BYPASS, "bridge", 5052, "127.0.0.1"), (BYPASS, "bridge", 5052, "::1"),
    (dict(BYPASS, AIGW_FASTAPI__API_HOST="127.0.0.1"), "host", None, "0.0.0.0"),
    ({}, "gitlab-ai-gateway", None, "0.0.0.0"), ({}, "bridge", 5052, "0.0.0.0"),
    (dict(BYPASS, AIGW_FASTAPI__API_HOST="127.0.0.1"), "duo-net", None, "0.0.0.0"),
    (dict(BYPASS, aigw_fastapi__api_host="::1"), "duo-net", None, "0.0.0.0"),
    (dict(BYPASS, AIGW_FASTAPI='{"api_host": "127.0.0.1"}'), "duo-net", None, "0.0.0.0"),
    # A published port reaches nothing when the gateway binds its own loopback.
    (dict(BYPASS, AIGW_FASTAPI__API_HOST="127.0.0.1"), "bridge", 5052, "0.0.0.0"),
])
def test_loopback_or_no_bypass_is_accepted(env, network, port, bind):
    assert loopback_only_while_bypassed(env, network, port, bind) is None


# -- a gateway on its own loopback: health asked inside its container -----------------------------------------

HEALTHZ_INSIDE = "http://127.0.0.1:5052/monitoring/healthz"
ON_PROXY_NETWORK = dict(health_url=None, network_mode="duo-net", published_port=0)


def test_a_bypassed_gateway_on_the_proxy_network_is_checked_inside_its_container(engine):
    engine.exec_answers[HEALTHZ_INSIDE] = (0, '{"status":"ok"}')
    result = gateway.reconcile(params(allow_auth_bypass=True, env=dict(BYPASS, AIGW_FASTAPI__API_HOST="127.0.0.1"),
                                      **ON_PROXY_NETWORK))
    health = result["health"]
    assert health["ok"] and health["inside_container"] and health["url"] == "http://127.0.0.1:5052"
    assert health["root"]["skipped"] == "authentication is bypassed"
    assert result["container"]["health_url"] == "http://127.0.0.1:5052"
    asked = [call[2] for call in engine.calls if call[0] == "exec"]
    assert asked and all(command[:2] == ["sh", "-c"] and command[3] == HEALTHZ_INSIDE for command in asked)


def test_a_gateway_on_its_own_loopback_that_is_not_healthy_inside_is_rolled_back(engine):
    engine.exec_answers[HEALTHZ_INSIDE] = (0, '{"status":"ok"}')
    engine.exec_answers["http://127.0.0.1:5052/"] = (1, "wget: server returned error: HTTP/1.1 401 Unauthorized")
    gateway.reconcile(params(env={"AIGW_FASTAPI__API_HOST": "127.0.0.1"}, **ON_PROXY_NETWORK))
    old_id = engine.containers.get(NAME).id
    engine.exec_answers[HEALTHZ_INSIDE] = (1, "wget: can't connect to remote host (127.0.0.1): Connection refused")
    with pytest.raises(DuoError) as info:
        gateway.reconcile(params(allow_auth_bypass=True, health_timeout=1,
                                 env=dict(BYPASS, AIGW_FASTAPI__API_HOST="127.0.0.1"), **ON_PROXY_NETWORK))
    assert "inside the container: exit code 1: wget: can't connect" in info.value.msg
    assert info.value.details["rolled_back"] and engine.containers.get(NAME).id == old_id


def test_a_gateway_on_its_own_loopback_with_authentication_must_refuse_the_root_inside(engine):
    engine.exec_answers[HEALTHZ_INSIDE] = (0, '{"status":"ok"}')
    engine.exec_answers["http://127.0.0.1:5052/"] = (1, "wget: server returned error: HTTP/1.1 401 Unauthorized")
    ok = gateway.reconcile(params(env={"AIGW_FASTAPI__API_HOST": "127.0.0.1"}, **ON_PROXY_NETWORK))
    assert ok["health"]["ok"] and ok["health"]["root"]["ok"] and ok["health"]["root"]["inside_container"]
    engine.exec_answers["http://127.0.0.1:5052/"] = (0, "{}")  # answers without authentication
    with pytest.raises(DuoError) as info:
        gateway.reconcile(params(state="restarted", env={"AIGW_FASTAPI__API_HOST": "127.0.0.1"}, **ON_PROXY_NETWORK))
    assert "http://127.0.0.1:5052/: inside the container: exit code 0" in info.value.msg


def test_a_container_that_is_not_running_yet_is_asked_again_until_the_deadline(engine, monkeypatch):
    answers = [(None, "Container is restarting"), (0, '{"status":"ok"}')]
    health, root = gateway.inside_health(lambda argv: answers.pop(0) if len(answers) > 1 else answers[0],
                                         "http://127.0.0.1:5052", deadline=gateway.time.monotonic() + 5, delay=0.01,
                                         expect_auth=False)
    assert health["ok"] and root["ok"] and answers == [(0, '{"status":"ok"}')]
