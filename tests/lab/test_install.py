"""playbooks/install.yml and gateway_container on the lab: real Docker, registry and GitLab stand-ins."""

import os

import pytest

from .conftest import assert_runs_pinned_release, free_port, run_playbook, write_inventory


def gateway_env(container):
    container.reload()
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def test_install_rerun_check_and_change(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory("18.2.1-ee")
    port = free_port()
    name = "duo-t-" + run_id
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, name, port, run_id)

    preview = run_playbook(inventory, "install.yml", "--check", "--diff")
    assert preview.rc == 0, preview.output
    assert not lab.containers.list(all=True, filters={"name": name}), "check mode created a container"
    assert gitlab.state["ai_settings"] == {}, "check mode changed GitLab"
    assert '"AIGW_GITLAB_URL": "{0}"'.format("http://gitlab.duo-lab.test:{0}".format(gitlab.port)) in preview.output
    assert '+    "ai_gateway_url": "http://gateway.duo-lab.test:{0}"'.format(port) in preview.output

    calls_before = gitlab.runner_calls()
    first = run_playbook(inventory)
    assert first.rc == 0, first.output
    container = lab.containers.get(name)
    assert container.status == "running"
    assert_runs_pinned_release(lab, container, "self-hosted-v18.2.10-ee")
    env = gateway_env(container)
    assert env["AIGW_GITLAB_URL"] == "http://gitlab.duo-lab.test:{0}".format(gitlab.port)
    assert env["AIGW_GITLAB_API_URL"] == env["AIGW_GITLAB_URL"] + "/api/v4/"
    assert env["AIGW_CUSTOM_MODELS__ENABLED"] == "true"
    assert env["AIGW_SELF_SIGNED_JWT__SIGNING_KEY"].startswith("-----BEGIN PRIVATE KEY-----")
    assert gitlab.state["ai_settings"]["ai_gateway_url"] == "http://gateway.duo-lab.test:{0}".format(port)
    assert gitlab.runner_calls() - calls_before == 1, "one gitlab-rails runner call per install"
    summary = (tmp_path / "reports" / "install-summary.md").read_text()
    assert "FAIL" not in summary and summary.count("| PASS |") == 4

    again = run_playbook(inventory)
    assert again.rc == 0 and again.changed() == 0, again.output
    assert lab.containers.get(name).id == container.id

    changed_env = {"ai_gateway_env": {"AIGW_LOGGING__LEVEL": "debug"}}
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, name, port, run_id, **changed_env)
    preview = run_playbook(inventory, "install.yml", "--check", "--diff")
    assert preview.rc == 0 and preview.changed() >= 1
    assert '+        "AIGW_LOGGING__LEVEL": "debug"' in preview.output
    assert lab.containers.get(name).id == container.id, "check mode replaced the container"

    applied = run_playbook(inventory)
    assert applied.rc == 0, applied.output
    replaced = lab.containers.get(name)
    assert replaced.id != container.id
    new_env = gateway_env(replaced)
    assert new_env["AIGW_LOGGING__LEVEL"] == "debug"
    assert new_env["AIGW_SELF_SIGNED_JWT__SIGNING_KEY"] == env["AIGW_SELF_SIGNED_JWT__SIGNING_KEY"], "JWT key changed"
    assert not lab.containers.list(all=True, filters={"name": name + "-previous"})


def test_api_token_install_boots_no_rails(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory("19.2.0-ee")
    port = free_port()
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, port, run_id,
                                gitlab_vars={"gitlab_api_token": gitlab.admin_token})
    result = run_playbook(inventory)
    assert result.rc == 0, result.output
    assert gitlab.runner_calls() == 0
    assert gitlab.state["application_settings"]["ai_gateway_url"] == "http://gateway.duo-lab.test:{0}".format(port)
    assert_runs_pinned_release(lab, lab.containers.get("duo-t-" + run_id), "self-hosted-v19.2.0-ee")
    assert gitlab.admin_token not in result.output


def test_secrets_never_printed(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory()
    secret = "sk-planted-" + run_id + "-do-not-print"
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, free_port(), run_id,
                                ai_gateway_secret_env={"MODEL_API_KEY": secret})
    result = run_playbook(inventory, "install.yml", "-vvv", "--diff")
    assert result.rc == 0, result.output
    assert gateway_env(lab.containers.get("duo-t-" + run_id))["MODEL_API_KEY"] == secret
    assert secret not in result.output
    assert "BEGIN PRIVATE KEY" not in result.output
    for report in os.listdir(tmp_path / "reports"):
        assert secret not in (tmp_path / "reports" / report).read_text()


def test_preflight_names_the_busy_port(lab, run_id, gitlab_factory, tmp_path, busy_port):
    gitlab = gitlab_factory()
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, busy_port, run_id)
    result = run_playbook(inventory)
    assert result.rc != 0
    assert "Port {0} on 127.0.0.1 is in use by another process".format(busy_port) in result.output
    assert not lab.containers.list(all=True, filters={"name": "duo-t-" + run_id})
    assert gitlab.state["ai_settings"] == {}


def test_preflight_refuses_localhost_gateway_name(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory()
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, free_port(), run_id,
                                ai_gateway_hostname="localhost")
    result = run_playbook(inventory)
    assert result.rc != 0
    assert 'ai_gateway_hostname="localhost" is localhost, which GitLab cannot use to reach this host' in result.output
    assert not lab.containers.list(all=True, filters={"name": "duo-t-" + run_id})


@pytest.mark.parametrize("limits, message", [
    ({"preflight_native_architectures": ["s390x"]},
     "the gateway image is linux/amd64. Fix: set ai_gateway_platform=linux/amd64"),
    ({"preflight_min_memory_mb": 100000000}, "the gateway needs at least 100000000 MB. Fix: add memory"),
    ({"preflight_min_free_disk_mb": 1000000000}, "1000000000 MB are needed for the image. Fix: free space"),
], ids=["architecture", "memory", "disk"])
def test_preflight_limits_fail_before_any_change(lab, run_id, gitlab_factory, tmp_path, limits, message):
    # The lab host passes the real limits, so each is raised above what it has (or its architecture excluded).
    gitlab = gitlab_factory()
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, free_port(), run_id, **limits)
    result = run_playbook(inventory)
    assert result.rc != 0
    assert message in " ".join(result.output.split()), result.output
    assert not lab.containers.list(all=True, filters={"name": "duo-t-" + run_id})
    assert gitlab.state["ai_settings"] == {}


def test_platform_set_on_a_foreign_architecture(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory()
    name = "duo-t-" + run_id
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, name, free_port(), run_id,
                                preflight_native_architectures=["aarch64"], ai_gateway_platform="linux/amd64")
    result = run_playbook(inventory)
    assert result.rc == 0, result.output
    container = lab.containers.get(name)
    assert lab.images.get(container.attrs["Image"]).attrs["Architecture"] == "amd64"
    again = run_playbook(inventory)
    assert again.rc == 0 and again.changed() == 0, "a set platform must not recreate the gateway every run"
    assert lab.containers.get(name).id == container.id


def test_wrong_variable_type_fails_before_any_task(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory()
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, free_port(), run_id,
                                ai_gateway_published_port="not-a-port", ai_gateway_pull="sometimes")
    result = run_playbook(inventory)
    assert result.rc != 0
    assert "ai_gateway_published_port" in result.output and "ai_gateway_pull" in result.output
    assert "Gather the gateway host's facts" not in result.output, "a task ran before the arguments were checked"
    assert not lab.containers.list(all=True, filters={"name": "duo-t-" + run_id})


def test_bad_gateway_url_fails_before_any_container(lab, run_id, gitlab_factory, tmp_path):
    """The URL is checked in install.yml's up-front check by the ai_settings module's own rules: the module's message
    (field, value, fix), and no container is made and GitLab is left alone."""
    gitlab = gitlab_factory()
    name = "duo-t-" + run_id
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, name, free_port(), run_id,
                                ai_gateway_url="gateway.duo-lab.test:5052")
    result = run_playbook(inventory)
    assert result.rc != 0
    output = " ".join(result.output.split())
    assert ("ai_gateway_url='gateway.duo-lab.test:5052': not an absolute http:// or https:// URL. Fix: write the full "
            "URL with its scheme, e.g. https://ai-gateway.example.com") in output, result.output
    assert "the GitLab instance this gateway serves, failed the checks above" in output
    assert not lab.containers.list(all=True, filters={"name": name})
    assert gitlab.state["ai_settings"] == {}


def test_bad_gateway_url_leaves_the_running_gateway_alone(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory()
    name, port = "duo-t-" + run_id, free_port()
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, name, port, run_id)
    first = run_playbook(inventory)
    assert first.rc == 0, first.output
    container = lab.containers.get(name)
    started = container.attrs["State"]["StartedAt"]

    # A loopback URL on the instance (a load balancer's URL would go there): refused unless allow_local_urls.
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, name, port, run_id,
                                gitlab_vars={"gitlab_settings_ai_gateway_url": "http://127.0.0.1:{0}".format(port)},
                                ai_gateway_env={"AIGW_LOGGING__LEVEL": "debug"})
    result = run_playbook(inventory)
    assert result.rc != 0
    assert ("ai_gateway_url='http://127.0.0.1:{0}': points at localhost/loopback".format(port)
            in " ".join(result.output.split())), result.output
    again = lab.containers.get(name)
    assert again.id == container.id and again.attrs["State"]["StartedAt"] == started, "the gateway was changed"
    assert "AIGW_LOGGING__LEVEL=debug" not in again.attrs["Config"]["Env"]
    assert gitlab.state["ai_settings"]["ai_gateway_url"] == "http://gateway.duo-lab.test:{0}".format(port)


def test_a_pool_member_that_is_no_gateway_host_fails_before_any_container(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory()
    name = "duo-t-" + run_id
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, name, free_port(), run_id,
                                tls_proxy_enabled=True, tls_proxy_domains=["gateway.duo-lab.test"],
                                tls_proxy_pool_members=["gitlab-standin-elsewhere"])
    result = run_playbook(inventory)
    assert result.rc != 0
    output = " ".join(result.output.split())
    assert 'tls_proxy_pool_members=["gitlab-standin-elsewhere"] must name other hosts of the ai_gateway group' in output
    assert not lab.containers.list(all=True, filters={"name": name})
    assert gitlab.state["ai_settings"] == {}
