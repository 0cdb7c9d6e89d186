"""demo.sh --fleet: a fleet of separate hosts (lab/fleet_hosts.py), two GitLab instances at different versions
each served by a gateway on another host, prepared, installed and troubleshot over SSH; prints both summaries.
The fleet is taken down at the end (DUO_FLEET_KEEP=1 keeps it for a look around: lab/lab.sh fleet down)."""

import os
import subprocess
import sys

import fleet_hosts as fleet
import fleetkit
from labkit import REPO, VENV_BIN, ansible_env

REPORTS = os.path.join(REPO, "duo-reports", "fleet")


def play(inventory, playbook, *args):
    print("\n=== ansible-playbook {0} {1}".format(playbook, " ".join(args)).rstrip(), flush=True)
    command = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory,
               os.path.join(REPO, "playbooks", playbook)] + list(args)
    if subprocess.run(command, env=ansible_env(), cwd=REPO, check=False).returncode != 0:
        raise SystemExit("{0} failed".format(playbook))


def main(args):
    if fleet.load_state():
        fleet.down()
    try:
        fleet.up(3)
        lab = fleetkit.FleetLab()
        inventory, _gitlabs = fleetkit.two_instances(lab, REPORTS, os.path.join(fleet.FLEET, "inventory.yml"))
        print("inventory: " + inventory)
        play(inventory, "prepare_hosts.yml", *args)
        play(inventory, "install.yml", *args)
        play(inventory, "troubleshoot.yml", *args)
        for summary in ("install/install-summary.md", "troubleshoot/fleet.md"):
            with open(os.path.join(REPORTS, summary)) as handle:
                print("\n" + handle.read())
    finally:
        if os.environ.get("DUO_FLEET_KEEP") != "1":
            fleet.down()


if __name__ == "__main__":
    main(sys.argv[1:])
