"""Run by test_teardown.py in a pytest of its own: a test that fails with the fleet up and SSH masters open.
Not collected by the main run (its name does not match test_*.py)."""

import os
import subprocess

from labkit import VENV_BIN, ansible_env

from ..conftest import fleet, fleetkit


def test_fails_with_the_fleet_up_and_ssh_masters_open(fleet_lab, tmp_path):
    hosts = {name: {"ansible_host": host.address} for name, host in fleet_lab.hosts.items() if host.kind != "airgapped"}
    inventory = fleetkit.write_inventory(tmp_path / "inventory.yml", {}, hosts)
    ping = subprocess.run([os.path.join(VENV_BIN, "ansible"), "fleet", "-i", inventory, "-m", "ansible.builtin.ping"],
                          capture_output=True, text=True, env=ansible_env(), check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    masters = os.listdir(fleet.CONTROL_PATH_DIR)
    assert len(masters) == len(hosts), "ControlPersist keeps one master per host"
    raise AssertionError("deliberately failed with {0} SSH masters open".format(len(masters)))
