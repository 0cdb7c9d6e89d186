"""Tear-down leaves nothing: after `fleet down`, and after a test that failed with the fleet up.
Runs last (file order): it takes the session's fleet down."""

import os
import subprocess
import sys

from .conftest import fleet

SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", "fails_midway.py")


def test_fleet_down_leaves_nothing(fleet_lab):
    made = fleet.leftovers()
    assert any(item.startswith("network namespace") for item in made) and any("cgroup" in item for item in made)
    fleet.down()
    assert fleet.leftovers() == []
    assert not os.path.exists(fleet.FLEET)


def test_a_failed_test_leaves_nothing():
    # A pytest of its own brings a one-host fleet up, opens SSH masters and fails; its finalizers must clean up.
    child = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", SCENARIO],
                           capture_output=True, text=True, cwd=fleet.REPO, env=dict(os.environ, DUO_FLEET_SIZE="1"),
                           check=False, timeout=900)
    assert child.returncode == 1, child.stdout + child.stderr
    assert "deliberately failed with 2 SSH masters open" in child.stdout, child.stdout
    assert fleet.leftovers() == []
