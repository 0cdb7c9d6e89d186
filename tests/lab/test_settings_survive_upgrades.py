"""AI settings survive GitLab upgrades: each run remembers what the instance holds (a 0600 snapshot per instance on
the control node), and after an upgrade that cleared values - GitLab 19.2 moves them to the application settings
and copies nothing - upgrade.yml sets again those that are unset now, and says what it restored and from where.
A value cleared on purpose (no upgrade since) stays cleared; a declared or newly set value always wins."""

import json
import os
import stat
import subprocess

from .conftest import free_port, run_playbook, write_inventory

TIMEOUT, AGENTS = 300, "agents.duo-lab.test:50052"


def by_hand(gitlab, ruby):
    """What an operator does in the Rails console (or the Admin area)."""
    done = subprocess.run([gitlab.rails, "runner", ruby], capture_output=True, text=True, check=False,
                          env=dict(os.environ, GITLAB_STANDIN_HOME=gitlab.home))
    assert done.returncode == 0, done.stderr


def test_settings_set_by_hand_come_back_after_the_upgrade_to_19_2(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory("18.10.0-ee")
    port = free_port()
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, port, run_id)
    url = "http://gateway.duo-lab.test:{0}".format(port)
    installed = run_playbook(inventory, "install.yml")
    assert installed.rc == 0, installed.output
    snapshot = tmp_path / "settings" / (gitlab.name + ".json")
    assert stat.S_IMODE(os.stat(str(snapshot)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(snapshot.parent)).st_mode) == 0o700

    by_hand(gitlab, "Ai::Setting.instance.update!(ai_gateway_timeout_seconds: {0}, "
                    "duo_agent_platform_service_url: '{1}')".format(TIMEOUT, AGENTS))
    remembered = run_playbook(inventory, "upgrade.yml")
    assert remembered.rc == 0, remembered.output
    assert "AI settings as declared and remembered: nothing to restore" in remembered.output
    assert json.loads(snapshot.read_text())["settings"] == {
        "ai_gateway_url": url, "ai_gateway_timeout_seconds": TIMEOUT, "duo_agent_platform_service_url": AGENTS}

    # The upgrade to 19.2: the stand-in reads the application settings from now on, as 19.2 does - added by its
    # migration with their defaults (URLs NULL, timeout 60) and filled with nothing.
    with open(gitlab.version_file, "w") as handle:
        handle.write("19.2.0-ee\n")
    assert gitlab.state["application_settings"] == {}
    upgraded = run_playbook(inventory, "upgrade.yml")
    assert upgraded.rc == 0, upgraded.output
    assert gitlab.state["application_settings"] == {
        "ai_gateway_url": url, "ai_gateway_timeout_seconds": TIMEOUT, "duo_agent_platform_service_url": AGENTS}
    assert ("Restored after the GitLab upgrade: ai_gateway_url, ai_gateway_timeout_seconds={0} (remembered at GitLab "
            "18.10.0 in {1}), duo_agent_platform_service_url={2} (remembered at GitLab 18.10.0 in {1})".format(
                TIMEOUT, snapshot, AGENTS)) in upgraded.output
    assert json.loads(snapshot.read_text())["gitlab_version"] == "19.2.0"

    again = run_playbook(inventory, "upgrade.yml")
    assert again.rc == 0 and again.changed() == 0, again.output

    # Cleared on purpose, with no GitLab upgrade since: it stays cleared, and is forgotten.
    by_hand(gitlab, "ApplicationSetting.current.update!(duo_agent_platform_service_url: nil)")
    cleared = run_playbook(inventory, "upgrade.yml")
    assert cleared.rc == 0, cleared.output
    assert gitlab.state["application_settings"]["duo_agent_platform_service_url"] is None
    assert json.loads(snapshot.read_text())["settings"]["duo_agent_platform_service_url"] is None
