"""gateway_container, gateway_release and the other modules one by one, on the lab's Docker and registry."""

import pytest

from .conftest import IMAGE, REGISTRY, free_port, run_module

GITLAB_URL = "http://gitlab.duo-lab.test:8929"


def container_args(run_id, tmp_path, **extra):
    args = {"name": "duo-c-" + run_id, "image": IMAGE + ":self-hosted-v18.2.2-ee", "gitlab_url": GITLAB_URL,
            "published_port": free_port(), "bind_address": "127.0.0.1", "jwt_keys_dir": str(tmp_path / "keys"),
            "health_timeout": 8, "labels": {"gitlab_duo.test": run_id}}
    args.update(extra)
    return args


def test_gateway_that_never_starts_fails_with_its_log(lab, run_id, tmp_path):
    args = container_args(run_id, tmp_path, env={"STANDIN_FAIL_START": "true"}, restart_policy="no")
    rc, result, output = run_module("gateway_container", args)
    assert rc != 0
    assert "did not become healthy" in result["msg"]
    assert any("stand-in told to fail at start-up" in line for line in result["logs"])
    assert result["rolled_back"] is False


def test_unhealthy_replacement_rolls_back(lab, run_id, tmp_path):
    args = container_args(run_id, tmp_path)
    rc, first, _output = run_module("gateway_container", args)
    assert rc == 0 and first["changed"] and first["health"]["ok"]
    rc, result, _output = run_module("gateway_container", dict(args, env={"STANDIN_HEALTHZ_STATUS": "503 Service Unavailable"}))
    assert rc != 0 and result["rolled_back"] is True
    assert "previous container was put back" in result["msg"]
    assert any("health check failing" in line for line in result["logs"])
    restored = lab.containers.get(args["name"])
    assert restored.id == first["container"]["id"] and restored.status == "running"
    rc, again, _output = run_module("gateway_container", args)
    assert rc == 0 and not again["changed"] and again["health"]["ok"]


def test_interrupted_replacement_is_restored(lab, run_id, tmp_path):
    args = container_args(run_id, tmp_path)
    rc, first, _output = run_module("gateway_container", args)
    assert rc == 0
    container = lab.containers.get(args["name"])
    container.stop(timeout=1)
    container.rename(args["name"] + "-previous")  # as a replacement cut off half-way leaves it
    rc, result, _output = run_module("gateway_container", args)
    assert rc == 0 and result["restored_interrupted"] and result["container"]["id"] == first["container"]["id"]
    assert lab.containers.get(args["name"]).status == "running"


def test_image_change_and_state_absent(lab, run_id, tmp_path):
    args = container_args(run_id, tmp_path)
    assert run_module("gateway_container", args)[0] == 0
    rc, result, output = run_module("gateway_container", dict(args, image=IMAGE + ":self-hosted-v18.2.9-ee"), "--diff")
    assert rc == 0 and result["changes"] == ["image"]
    assert '+    "image": "{0}:self-hosted-v18.2.9-ee"'.format(IMAGE) in output
    rc, result, _output = run_module("gateway_container", {"name": args["name"], "state": "absent"}, "--check")
    assert rc == 0 and result["changed"] and lab.containers.get(args["name"])
    rc, result, _output = run_module("gateway_container", {"name": args["name"], "state": "absent"})
    assert rc == 0 and result["changed"] and not lab.containers.list(all=True, filters={"name": args["name"]})
    assert not run_module("gateway_container", {"name": args["name"], "state": "absent"})[1]["changed"]


def test_restarted(lab, run_id, tmp_path):
    args = container_args(run_id, tmp_path)
    assert run_module("gateway_container", args)[0] == 0
    started = lab.containers.get(args["name"]).attrs["State"]["StartedAt"]
    rc, result, _output = run_module("gateway_container", dict(args, state="restarted"))
    assert rc == 0 and result["changed"] and result["health"]["ok"]
    assert lab.containers.get(args["name"]).attrs["State"]["StartedAt"] != started


def test_host_network_moves_metrics_port(lab, run_id, tmp_path):
    api_port = free_port()
    args = container_args(run_id, tmp_path, network_mode="host", env={"AIGW_FASTAPI__API_PORT": str(api_port)})
    del args["published_port"]
    rc, result, _output = run_module("gateway_container", args)
    assert rc == 0, result
    assert result["container"]["health_url"] == "http://127.0.0.1:{0}".format(api_port)
    env = dict(item.split("=", 1) for item in lab.containers.get(args["name"]).attrs["Config"]["Env"])
    assert env["AIGW_FASTAPI__METRICS_PORT"] == "8083"


BAD_INPUTS = [
    ("gateway_container", {"gitlab_url": "gitlab.duo-lab.test"}, "gitlab_url='gitlab.duo-lab.test'"),
    ("gateway_container", {"image": IMAGE + ":nightly"}, "uses 'nightly'"),
    ("gateway_container", {"image": IMAGE + ":latest"}, "uses 'latest'"),
    ("gateway_container", {"image": IMAGE}, "has no tag"),
    ("gateway_container", {"published_port": 70000}, "published_port=70000"),
    ("gateway_container", {"network_mode": "host"}, "cannot be used with network_mode=host"),
    ("gateway_container", {"env": {"AIGW_AUTH__BYPASS_EXTERNAL": "true"}}, "allow_auth_bypass=true"),
    ("gateway_container", {"env": {"aigw_auth__bypass_external": "Y"}}, "env.aigw_auth__bypass_external='Y'"),
    ("gateway_container", {"env": {"AIGW_AUTH": '{"bypass_external": true}'}}, "env.AIGW_AUTH="),
    ("gateway_container", {"env": {"MODEL_API_KEY": "plain-secret"}}, "env.MODEL_API_KEY='<redacted>'"),
    ("gateway_container", {"health_timeout": 0}, "health_timeout=0: is outside 1-3600"),
    ("gateway_container", {"stop_timeout": -5}, "stop_timeout=-5"),
    ("gateway_container", {"name": "gw;evil"}, "name='gw;evil'"),
    ("gateway_container", {"gitlab_url": "http://root:plain-secret@gitlab.duo-lab.test"}, "carries credentials"),
    ("gateway_container", {"bind_address": "localhost;"}, "bind_address='localhost;'"),
    ("gateway_release", {"gitlab_version": "18.99.0"}, "no self-hosted-v18.99.*-ee tag"),
    ("gateway_release", {"gitlab_version": "eighteen"}, "gitlab_version='eighteen'"),
    ("gateway_release", {"gitlab_version": "18.2.1", "tag": "nightly"}, "tag='nightly'"),
    ("gitlab_ai_settings", {"ai_gateway_url": "gateway.duo-lab.test:5052"}, "not an absolute http:// or https:// URL"),
    ("gitlab_ai_settings", {"ai_gateway_url": "http://localhost:5052"}, "points at localhost/loopback"),
    ("gitlab_ai_settings", {"ai_gateway_url": "http://127.1:5052"}, "points at localhost/loopback"),
    ("gitlab_ai_settings", {"ai_gateway_url": "http://[::ffff:127.0.0.1]:5052"}, "points at localhost/loopback"),
    ("gitlab_ai_settings", {"ai_gateway_url": "http://2130706433:5052"}, "points at localhost/loopback"),
    ("gitlab_ai_settings", {"ai_gateway_url": "http://gw.example.com:0"}, "has port 0"),
    ("gitlab_ai_settings", {"ai_gateway_url": "http://gw.example.com", "duo_agent_platform_service_url": "http://gw.example.com:50052"},
     "duo_agent_platform_service_url='http://gw.example.com:50052'"),
    ("gitlab_ai_settings", {"ai_gateway_url": "http://gw.example.com", "ai_gateway_timeout_seconds": 30}, "outside 60-600"),
    ("gitlab_ai_settings", {"ai_gateway_url": "http://gw.example.com", "gitlab_version": "nope"}, "gitlab_version='nope'"),
]


@pytest.mark.parametrize("module, bad, words", BAD_INPUTS, ids=[words[:40] for _m, _b, words in BAD_INPUTS])
def test_bad_input_fails_before_any_change(lab, run_id, tmp_path, gitlab_factory, module, bad, words):
    if module == "gateway_container":
        args = container_args(run_id, tmp_path, **bad)
        if bad.get("network_mode") == "host":
            args["published_port"] = 5052
    elif module == "gateway_release":
        args = dict({"registry": "http://" + REGISTRY}, **bad)
    else:
        gitlab = gitlab_factory()
        args = dict({"rails_command": [gitlab.rails], "version_file": gitlab.version_file}, **bad)
    rc, result, output = run_module(module, args)
    assert rc != 0
    assert words in result["msg"], result["msg"]
    assert "Fix:" in result["msg"] and "plain-secret" not in output
    assert not lab.containers.list(all=True, filters={"label": "gitlab_duo.test=" + run_id})
    assert not (tmp_path / "keys").exists()
    if module == "gitlab_ai_settings":
        assert gitlab.runner_calls() == 0 and gitlab.state["ai_settings"] == {}


@pytest.mark.parametrize("version, tag", [
    ("18.2.1-ee", "self-hosted-v18.2.10-ee"),  # numeric: 10 > 9, rc1 and nightly ignored
    ("v18.1.0-ee", "self-hosted-v18.1.1-ee"),
    ("18.10.2", "self-hosted-v18.10.0-ee"),   # 18.10 is not 18.1
    ("18.3.0-ee", "self-hosted-v18.3.0-ee"),
])
def test_tag_choice_from_lab_registry(lab, version, tag):
    rc, result, _output = run_module("gateway_release", {"gitlab_version": version, "registry": "http://" + REGISTRY})
    assert rc == 0 and result["tag"] == tag
    assert result["image"] == IMAGE + ":" + tag
    assert result["digest"].startswith("sha256:")


def test_missing_minor_lists_nearest_tags(lab):
    rc, result, _output = run_module("gateway_release", {"gitlab_version": "18.4.0", "registry": "http://" + REGISTRY})
    assert rc != 0
    assert result["nearest_tags"] == ["self-hosted-v18.1.1-ee", "self-hosted-v18.2.10-ee", "self-hosted-v18.3.0-ee",
                                      "self-hosted-v18.10.0-ee"]


def test_host_facts_and_probe(lab):
    facts_args = {"port": 5000, "bind_address": "127.0.0.1", "hostname": "localhost"}
    rc, facts, _output = run_module("gateway_host_facts", facts_args)
    assert rc == 0 and facts["docker"]["reachable"] and facts["port"]["in_use"] and facts["hostname"]["is_local"]
    probe_args = {"url": "http://127.0.0.1:9", "retries": 1, "delay": 0.1, "fail_on_error": False}
    rc, probe, _output = run_module("gateway_probe", probe_args)
    assert rc == 0 and probe["ok"] is False and probe["probes"][0]["attempts"] == 2
    rc, probe, _output = run_module("gateway_probe", {"url": "http://127.0.0.1:9", "retries": 0, "name": "x"})
    assert rc != 0 and "Probe 'x' failed" in probe["msg"]


def test_ca_bundle_is_mounted_and_pointed_at(lab, run_id, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nlab\n-----END CERTIFICATE-----\n")
    args = container_args(run_id, tmp_path, ca_bundle=str(bundle))
    rc, result, _output = run_module("gateway_container", args)
    assert rc == 0, result
    container = lab.containers.get(args["name"])
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == "/etc/ssl/certs/gitlab-duo-ca-bundle.pem"
    mounted = container.exec_run(["cat", "/etc/ssl/certs/gitlab-duo-ca-bundle.pem"]).output.decode()
    assert "BEGIN CERTIFICATE" in mounted
    rc, result, _output = run_module("gateway_container", dict(args, ca_bundle=str(tmp_path / "missing.pem")))
    assert rc != 0 and "ca_bundle=" in result["msg"] and lab.containers.get(args["name"]).id == container.id


def test_pull_policies(lab, run_id, tmp_path):
    image = IMAGE + ":self-hosted-v18.1.0-ee"
    lab.images.remove(image, force=True)
    args = container_args(run_id, tmp_path, image=image, pull="never")
    rc, result, _output = run_module("gateway_container", args)
    assert rc != 0 and "pull=never" in result["msg"] and "docker load" in result["msg"]
    rc, result, _output = run_module("gateway_container", dict(args, pull="missing"))
    assert rc == 0 and result["changed"], result
    assert lab.images.get(image).id == result["container"]["image_id"]
    rc, result, _output = run_module("gateway_container", dict(args, pull="always"))
    assert rc == 0 and not result["changed"], "pulling the same digest again must change nothing"
