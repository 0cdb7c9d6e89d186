"""Fixtures for the fleet tests: separate Debian hosts reached over SSH (lab/fleet_hosts.py), torn down in a finalizer
whatever happens to the tests. The first run builds and caches the hosts' root filesystem (.lab/fleet-cache)."""

import os
import subprocess
import sys

import pytest

LAB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "lab")
sys.path.insert(0, LAB)

# pylint: disable=wrong-import-position
import fleet_hosts as fleet  # noqa: E402  (lab/ is not a package)
import fleetkit  # noqa: E402
from labkit import lab_up, run_playbook  # noqa: E402

__all__ = ["fleet", "fleetkit", "run_playbook", "ssh"]


@pytest.fixture(scope="session")
def fleet_lab(request):
    """A fleet of DUO_FLEET_SIZE (3) Docker hosts plus sd01 (systemd) and air01 (air-gapped)."""
    lab_up()  # the machine's registry, which the fleet's registry mirrors
    fleet.down()  # whatever an interrupted run left
    request.addfinalizer(fleet.down)  # registered before up(): a half-made fleet goes too
    fleet.up(int(os.environ.get("DUO_FLEET_SIZE", "3")))
    return fleetkit.FleetLab()


def ssh(host, command, check=False):
    """A command on a fleet host over SSH as the unprivileged login user (prefix sudo for root)."""
    return subprocess.run(
        ["ssh", "-i", os.path.join(fleet.SSH_DIR, "id_ed25519"), "-o", "BatchMode=yes",
         "-o", "UserKnownHostsFile=" + os.path.join(fleet.SSH_DIR, "known_hosts"), "-o", "StrictHostKeyChecking=yes",
         "{0}@{1}".format(fleet.LOGIN_USER, host.address), command],
        capture_output=True, text=True, check=check, timeout=120)
