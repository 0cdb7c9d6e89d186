"""NGINX in front of the gateway: from the host's packages with a fake run_command that tests configurations as
nginx -t would, and in a container with the fake engine. A configuration NGINX rejects never replaces the
running one; check mode changes nothing; a second run changes nothing."""

import os
import stat

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls import nginx
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import FakeDocker, Runner, module_params

GOOD = "events {}\nhttp { server { listen 443 ssl; } }\n"
NEWER = "events {}\nhttp { server { listen 443 ssl; http2 on; } }\n"
BAD = "events {}\nhttp { bogus on; }\n"
IMAGE = "nginx:1.27-alpine"


def fake_nginx(argv):
    """nginx on the host: ``-t -c FILE`` fails for a 'bogus' directive and quotes FILE, as NGINX does."""
    if "-t" in argv:
        path = argv[argv.index("-c") + 1]
        with open(path) as handle:
            if "bogus" in handle.read():
                return 1, "", ('nginx: [emerg] unknown directive "bogus" in {0}:2\n'
                               'nginx: configuration file {0} test failed'.format(path))
        return 0, "", "nginx: configuration file {0} test is successful".format(path)
    return 0, "", ""


def host_params(proxy_dir, config=GOOD, **given):
    return module_params("nginx_proxy", runtime="host", proxy_dir=str(proxy_dir), config=config, **given)


def actions(run):
    """The nginx commands other than the configuration test."""
    return [argv for argv, _data in run.calls if "-t" not in argv]


def test_pure_helpers(tmp_path):
    assert nginx.container_command() == ["nginx", "-c", "/etc/nginx/duo/nginx.conf", "-g", "daemon off;"]
    want = nginx.desired(IMAGE, "duo", "proxy", {"443/tcp": "0.0.0.0:443"}, "always")
    assert want["mounts"] == ["{0}:/etc/nginx/duo:ro".format(os.path.abspath("proxy"))]
    assert nginx.host_commands("/srv/p") == {"start": ["nginx", "-c", "/srv/p/nginx.conf"],
                                             "reload": ["nginx", "-c", "/srv/p/nginx.conf", "-s", "reload"],
                                             "status": None}
    given = nginx.host_commands("/srv/p", {"reload": ["systemctl", "reload", "nginx"], "start": None})
    assert given["reload"] == ["systemctl", "reload", "nginx"] and given["start"][0] == "nginx"
    assert nginx.live_config(str(tmp_path)) is None
    nginx.promote(str(tmp_path / "p"), GOOD)
    assert nginx.live_config(str(tmp_path / "p")) == GOOD and os.listdir(tmp_path / "p") == ["nginx.conf"]
    assert stat.S_IMODE(os.stat(tmp_path / "p" / "nginx.conf").st_mode) == 0o644


def test_host_running(tmp_path):
    assert nginx.host_running(Runner((0, "active", "")), "/p", {"status": ["systemctl", "is-active", "nginx"]}, None)
    assert not nginx.host_running(Runner((3, "inactive", "")), "/p", {"status": ["systemctl", "is-active"]}, None)
    pid_file = tmp_path / "nginx.pid"
    pid_file.write_text("{0}\n".format(os.getpid()))
    assert nginx.host_running(Runner(), str(tmp_path), {}, None)
    assert nginx.host_running(Runner(), "/nonexistent", {}, str(pid_file))
    pid_file.write_text("not a pid")
    assert not nginx.host_running(Runner(), str(tmp_path), {}, None)
    assert not nginx.host_running(Runner(), str(tmp_path / "none"), {}, None)


def test_host_first_run_check_mode_then_start_then_nothing(tmp_path):
    proxy_dir = tmp_path / "proxy"
    run = Runner(fake_nginx)
    checked = nginx.reconcile(host_params(proxy_dir), True, run)
    assert checked["changed"] and checked["config_changed"] and not proxy_dir.exists()
    assert checked["diff"]["before"] == "" and checked["diff"]["after"] == GOOD and actions(run) == []

    started = nginx.reconcile(host_params(proxy_dir), False, run)
    assert started["changed"] and not started["reloaded"] and nginx.live_config(str(proxy_dir)) == GOOD
    assert actions(run) == [["nginx", "-c", str(proxy_dir / "nginx.conf")]]

    (proxy_dir / "nginx.pid").write_text(str(os.getpid()))
    tests_before = len(run.calls)
    again = nginx.reconcile(host_params(proxy_dir), False, run)
    assert not again["changed"] and not again["config_changed"] and len(run.calls) == tests_before


def test_host_new_config_is_tested_then_reloaded(tmp_path):
    nginx.promote(str(tmp_path), GOOD)
    commands = {"status": ["systemctl", "is-active", "nginx"], "reload": ["systemctl", "reload", "nginx"]}
    run = Runner(fake_nginx)
    result = nginx.reconcile(host_params(tmp_path, NEWER, host_commands=commands), False, run)
    assert result["changed"] and result["config_changed"] and result["reloaded"]
    assert run.calls[0][0][:2] == ["nginx", "-t"] and actions(run)[-1] == ["systemctl", "reload", "nginx"]
    assert nginx.live_config(str(tmp_path)) == NEWER
    assert not os.path.exists(run.calls[0][0][3]), "the staged configuration was left behind"


def test_host_rejected_config_keeps_the_running_one(tmp_path):
    nginx.promote(str(tmp_path), GOOD)
    run = Runner(fake_nginx)
    with pytest.raises(DuoError) as info:
        nginx.reconcile(host_params(tmp_path, BAD, host_commands={"status": ["true"]}), False, run)
    assert info.value.msg == ("NGINX rejected the new configuration (nginx -t); the running one keeps serving. "
                              'NGINX said: nginx: [emerg] unknown directive "bogus" in nginx.conf:2\n'
                              "nginx: configuration file nginx.conf test failed")
    assert nginx.live_config(str(tmp_path)) == GOOD and actions(run) == []


def test_host_reloaded_state_and_failing_reload(tmp_path):
    nginx.promote(str(tmp_path), GOOD)
    commands = {"status": ["true"], "reload": ["systemctl", "reload", "nginx"]}
    result = nginx.reconcile(host_params(tmp_path, state="reloaded", host_commands=commands), False, Runner())
    assert result["changed"] and result["reloaded"] and not result["config_changed"]
    failing = Runner((0, "", ""), (1, "", "Job for nginx.service failed"))
    with pytest.raises(DuoError) as info:
        nginx.reconcile(host_params(tmp_path, state="reloaded", host_commands=commands), False, failing)
    assert info.value.msg == "Reloading NGINX failed (systemctl reload nginx): Job for nginx.service failed"


def test_host_absent_is_refused():
    with pytest.raises(DuoError) as info:
        nginx.reconcile(module_params("nginx_proxy", runtime="host", state="absent"), False, Runner())
    assert "state=absent is for mode=container" in info.value.msg


# -- in a container -------------------------------------------------------------------------------------------

@pytest.fixture()
def engine(monkeypatch):
    client = FakeDocker(registry=[IMAGE])
    monkeypatch.setattr(nginx, "docker_client", lambda docker_host, timeout=60: client)
    return client


def container_params(proxy_dir, config=GOOD, **given):
    return module_params("nginx_proxy", image=IMAGE, network="duo", proxy_dir=str(proxy_dir), config=config,
                         bind_address="127.0.0.1", http_port=8080, https_port=8443, **given)


def test_container_first_run_then_nothing_then_reload(engine, tmp_path):
    first = nginx.reconcile(container_params(tmp_path), False, Runner())
    assert first["changed"] and first["container_changed"] and first["container"]["status"] == "running"
    proxy = engine.containers.get("gitlab-ai-gateway-proxy")
    assert proxy.attrs["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                                         "443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}]}
    assert proxy.labels["gitlab_duo.self_hosted.managed"] == "true"
    (_run, image, command, options), = [call for call in engine.calls if call[0] == "run"]
    assert (image, command) == (IMAGE, ["nginx", "-t", "-c", "/etc/nginx/duo-staged.conf"])
    assert options["network"] == "duo" and options["remove"] is True

    count = len(engine.calls)
    again = nginx.reconcile(container_params(tmp_path), False, Runner())
    assert not again["changed"] and not again["container_changed"] and len(engine.calls) == count

    newer = nginx.reconcile(container_params(tmp_path, NEWER), False, Runner())
    assert newer["changed"] and newer["reloaded"] and not newer["container_changed"]
    reload_command = ["nginx", "-s", "reload", "-c", "/etc/nginx/duo/nginx.conf"]
    assert engine.calls[-1] == ("exec", "gitlab-ai-gateway-proxy", reload_command)
    assert engine.containers.get("gitlab-ai-gateway-proxy").id == proxy.id


def test_container_rejected_config_keeps_the_running_one(engine, tmp_path):
    nginx.reconcile(container_params(tmp_path), False, Runner())
    count = len(engine.changes())
    engine.run_answers.append((1, 'nginx: [emerg] unknown directive "bogus" in /etc/nginx/duo-staged.conf:2'))
    with pytest.raises(DuoError) as info:
        nginx.reconcile(container_params(tmp_path, BAD), False, Runner())
    assert info.value.msg.endswith('NGINX said: nginx: [emerg] unknown directive "bogus" in nginx.conf:2')
    assert nginx.live_config(str(tmp_path)) == GOOD and len(engine.changes()) == count


def test_container_failing_reload_is_reported(engine, tmp_path):
    nginx.reconcile(container_params(tmp_path), False, Runner())
    engine.exec_answers["nginx -s reload"] = (1, "nginx: [alert] kill(1, 1) failed")
    with pytest.raises(DuoError) as info:
        nginx.reconcile(container_params(tmp_path, state="reloaded"), False, Runner())
    assert info.value.msg == "nginx -s reload failed in gitlab-ai-gateway-proxy: nginx: [alert] kill(1, 1) failed"


def test_container_needs_image_and_network(engine, tmp_path):
    with pytest.raises(DuoError) as info:
        nginx.reconcile(module_params("nginx_proxy", proxy_dir=str(tmp_path), config=GOOD, network="duo"), False,
                        Runner())
    assert info.value.msg == "image is required with mode=container. Fix: set it, or use mode=host."
    assert engine.calls == []


def test_container_absent(engine, tmp_path):
    nginx.reconcile(container_params(tmp_path), False, Runner())
    assert nginx.reconcile(module_params("nginx_proxy", state="absent"), True, Runner()) == {"changed": True}
    assert nginx.reconcile(module_params("nginx_proxy", state="absent"), False, Runner()) == {"changed": True}
    assert nginx.reconcile(module_params("nginx_proxy", state="absent"), False, Runner()) == {"changed": False}


def test_container_check_mode_with_the_image_present(engine, tmp_path):
    engine.images.add(IMAGE)
    result = nginx.reconcile(container_params(tmp_path), True, Runner())
    assert result["changed"] and result["config_changed"] and result["container_changed"]
    assert result["diff"][1]["before"] == {} and result["diff"][1]["after"]["image"] == IMAGE
    assert engine.changes() == [] and nginx.live_config(str(tmp_path)) is None


def test_container_check_mode_pulls_nothing(engine, tmp_path):
    """nginx -t in a throwaway container would pull a missing image first: check mode skips it then."""
    nginx.reconcile(container_params(tmp_path), True, Runner())
    assert engine.changes() == []
