"""Two playbooks on one gateway host do not interleave: the first holds the host's lease for its whole run (held
still in the middle here), a second one waits for it and fails naming the holder, or goes on once it is given back;
a lease of a run that is gone elsewhere expires and is taken over, or is taken over at once when named."""

import json
import os
import sys
import time

from .conftest import free_port, run_module, run_playbook, write_inventory

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, ".lab", "collections"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "lab"))

# pylint: disable=wrong-import-position
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import lock_directory  # noqa: E402
from labkit import finish_playbook, start_playbook  # noqa: E402

PAUSE_AT = {"ANSIBLE_CALLBACK_PLUGINS": os.path.join(os.path.dirname(__file__), "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "pause_at_task"}


def lease_file(gateway):
    return os.path.join(lock_directory(), "lease-{0}.json".format(gateway))


def wait_paused(process, marker, seconds=300):
    deadline = time.monotonic() + seconds
    while not os.path.exists(marker + ".paused"):
        assert process.poll() is None, finish_playbook(process).output
        assert time.monotonic() < deadline, "the first run never reached the task it pauses after"
        time.sleep(0.2)


def test_a_second_playbook_waits_for_the_first_fails_naming_it_then_goes_on(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory()
    gateway = "duo-t-" + run_id
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, gateway, free_port(), run_id)
    release = str(tmp_path / "release")
    first = start_playbook(inventory, "install.yml", env=dict(
        PAUSE_AT, DUO_PAUSE_AT_TASK=": Run the AI Gateway container", DUO_PAUSE_FILE=release))
    second = None
    try:
        wait_paused(first, release)
        with open(lease_file(gateway)) as handle:
            lease = json.load(handle)
        assert (lease["playbook"], lease["control_pid"], lease["name"]) == ("install.yml", first.pid, gateway)
        assert lease["covers"]["containers"] == sorted([gateway, gateway + "-surge"])
        assert os.stat(lease_file(gateway)).st_mode & 0o777 == 0o600

        # Another playbook on the same host, told to wait 2 s: it fails naming the run that holds the host.
        refused = run_playbook(inventory, "install.yml", "-e", "ai_gateway_lease_timeout=2")
        assert refused.rc != 0
        text = " ".join(refused.output.split())
        assert "This gateway host is leased to another run: run {0} (install.yml from {1} pid {2} as".format(
            lease["run_id"], lease["control_node"], first.pid) in text, refused.output
        assert "waited 2 s" in text and "ai_gateway_lease_break={0}".format(lease["run_id"]) in text
        # A module called outside any playbook run waits for the lease as well.
        rc, result, output = run_module("gateway_container", {"name": gateway, "state": "absent", "lock_timeout": 1})
        assert rc != 0 and "The gateway container {0} is leased to another run: run {1}".format(
            gateway, lease["run_id"]) in result["msg"], output
        assert lab.containers.get(gateway).status == "running"

        # One that waits (the default 300 s) goes on once the first is done.
        second = start_playbook(inventory, "install.yml")
        time.sleep(3)
        assert second.poll() is None, "the second run must wait while the first holds the host"
        with open(release, "w") as handle:
            handle.write("go\n")
        done = finish_playbook(first)
        assert done.rc == 0, done.output
        after = finish_playbook(second)
        assert after.rc == 0 and after.changed() == 0, after.output
        assert not os.path.exists(lease_file(gateway)), "each run gives its lease back at the end"
    finally:
        with open(release, "w") as handle:
            handle.write("go\n")
        for process in (first, second):
            if process is not None and process.poll() is None:
                finish_playbook(process)


def test_a_lease_from_elsewhere_is_taken_over_when_it_expired_or_when_named(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory()
    gateway = "duo-t-" + run_id
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, gateway, free_port(), run_id)

    def leased_elsewhere(run, ttl):
        rc, result, output = run_module("gateway_host_lease", {
            "name": gateway, "run_id": run, "playbook": "upgrade.yml", "control_node": "control-elsewhere",
            "control_pid": 4242, "control_user": "ops", "ttl": ttl})
        assert rc == 0 and result["held"], output

    # A live lease of a run on another control node: waited for, then refused; taken over only when named.
    leased_elsewhere("elsewhere-live", 3600)
    refused = run_playbook(inventory, "install.yml", "-e", "ai_gateway_lease_timeout=1")
    assert refused.rc != 0
    assert "leased to another run: run elsewhere-live (upgrade.yml from control-elsewhere pid 4242 as ops)" in \
        " ".join(refused.output.split()), refused.output
    assert not lab.containers.list(all=True, filters={"label": "gitlab_duo.test=" + run_id}), "nothing was changed"
    broken = run_playbook(inventory, "install.yml", "-e", "ai_gateway_lease_break=elsewhere-live")
    assert broken.rc == 0, broken.output
    assert not os.path.exists(lease_file(gateway))

    # A run that died elsewhere: its lease expires (ttl), then the next run takes it over without being told.
    leased_elsewhere("elsewhere-killed", 10)
    time.sleep(11)
    taken = run_playbook(inventory, "install.yml", "-e", "ai_gateway_lease_timeout=0")
    assert taken.rc == 0 and taken.changed() == 0, taken.output
    assert not os.path.exists(lease_file(gateway))
