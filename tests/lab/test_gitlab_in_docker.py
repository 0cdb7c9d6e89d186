"""GitLab in Docker: the GitLab stand-in runs inside a container and every GitLab-side step goes through
``docker exec -i <container> gitlab-rails`` (and ``gitlab-rake``): version detection reads the version file
inside the container, install sets the gateway URL with one runner call, troubleshoot diagnoses through it."""

import json
import os
import shutil
import subprocess

from .conftest import REPO, assert_runs_pinned_release, free_port, run_module, run_playbook, write_inventory


def test_install_and_troubleshoot_through_docker_exec(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory("18.2.1-ee")
    container = "duo-gl-" + run_id
    docker_vars = gitlab.in_docker(container, run_id)
    assert not os.path.exists(docker_vars["gitlab_version_file"]), "the version file must only exist in the container"
    api_port = free_port()
    gateway = "duo-t-" + run_id
    inventory = write_inventory(
        tmp_path / "inventory.yml", gitlab, gateway, 0, run_id, gitlab_vars=docker_vars,
        ai_gateway_network_mode="host", ai_gateway_env={"AIGW_FASTAPI__API_PORT": str(api_port)},
        ai_gateway_url="http://gateway.duo-lab.test:{0}".format(api_port))

    rc, version, output = run_module("gitlab_version", {"rails_command": docker_vars["gitlab_rails_command"]})
    assert rc == 0, output
    assert version["version"] == "18.2.1-ee"
    assert version["source"] == "file:/opt/gitlab/embedded/service/gitlab-rails/VERSION via docker exec -i " + container

    preview = run_playbook(inventory, "install.yml", "--check", "--diff")
    assert preview.rc == 0, preview.output
    assert gitlab.state["ai_settings"] == {}, "check mode changed GitLab"

    calls = gitlab.runner_calls()
    first = run_playbook(inventory)
    assert first.rc == 0, first.output
    assert gitlab.state["ai_settings"]["ai_gateway_url"] == "http://gateway.duo-lab.test:{0}".format(api_port)
    assert gitlab.runner_calls() - calls == 1, "one gitlab-rails runner call, inside the container"
    assert_runs_pinned_release(lab, lab.containers.get(gateway), "self-hosted-v18.2.10-ee")
    summary = (tmp_path / "reports" / "install-summary.md").read_text()
    assert "| PASS | {0} | gitlab_verify_self_hosted_setup |".format(gitlab.name) in summary, summary
    assert "FAIL" not in summary

    again = run_playbook(inventory)
    assert again.rc == 0 and again.changed() == 0, again.output

    llm_log = tmp_path / "llm.log"
    shutil.copy(os.path.join(REPO, "lab", "gitlab", "samples", "llm-healthy.log"), llm_log)
    calls = gitlab.runner_calls()
    diagnosed = run_playbook(inventory, "troubleshoot.yml", "-e", json.dumps(
        {"troubleshoot_user": "duo-user", "troubleshoot_llm_log": str(llm_log),
         "troubleshoot_report_dir": str(tmp_path / "troubleshoot"),
         # docker exec -i carries the key to the runner on standard input; the keyed stand-in model needs it.
         "troubleshoot_round_trip": {"model": "mistral", "model_endpoint": "http://keyed-vllm.duo-lab.test:8000/v1",
                                     "model_api_key": "sk-planted-docker-key"}}))
    assert diagnosed.rc == 0, diagnosed.output
    assert gitlab.runner_calls() - calls == 1
    with open(tmp_path / "troubleshoot" / (gitlab.name + ".json")) as handle:
        findings = {item["id"]: item for item in json.load(handle)["findings"]}
    problems = {key: item["evidence"] for key, item in findings.items() if item["severity"] in ("critical", "warning")}
    assert problems == {}, problems
    assert "gitlab.ai_gateway_url.ok" in findings
    assert "gitlab.model_round_trip.ok" in findings
    assert "sk-planted-docker-key" not in diagnosed.output


def test_stopped_gitlab_container_is_named_in_the_error(lab, run_id, gitlab_factory):
    gitlab = gitlab_factory("18.2.1-ee")
    container = "duo-gl-" + run_id
    docker_vars = gitlab.in_docker(container, run_id)
    subprocess.run(["docker", "stop", container], check=True, stdout=subprocess.DEVNULL)

    rc, result, output = run_module("gitlab_version", {"rails_command": docker_vars["gitlab_rails_command"]})
    assert rc != 0, output
    assert "docker exec -i {0} cat /opt/gitlab/embedded/service/gitlab-rails/VERSION".format(container) in result["msg"]
    assert "is not running" in result["msg"]

    rc, result, output = run_module("gitlab_ai_settings", {"rails_command": docker_vars["gitlab_rails_command"],
                                                           "gitlab_version": "18.2.1-ee",
                                                           "ai_gateway_url": "http://gateway.duo-lab.test:5052"})
    assert rc != 0, output
    assert "docker exec -i {0} gitlab-rails runner".format(container) in result["msg"]
    assert "docker exec -i <container> gitlab-rails" in result["msg"], "the fix names the Docker prefix"
    assert gitlab.state["ai_settings"] == {}
