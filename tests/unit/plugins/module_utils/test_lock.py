import multiprocessing
import os

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import held, proxy_lock_path


def hold_until_told(path, ready, release):
    with held(path, "the thing", 5):
        ready.set()
        release.wait(30)


def holder(path):
    """Another process holding ``path``; set the returned event to let it finish."""
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    other = multiprocessing.Process(target=hold_until_told, args=(path, ready, release))
    other.start()
    assert ready.wait(30)
    return other, release


def test_second_run_fails_after_its_bounded_wait_naming_the_holder(tmp_path):
    path = str(tmp_path / "gateway.lock")
    other, release = holder(path)
    try:
        with pytest.raises(DuoError) as info:
            with held(path, "the gateway container gw", 0):
                raise AssertionError("must not get the lock while another process holds it")
        assert "Another run is changing the gateway container gw" in info.value.msg
        assert "pid {0}".format(other.pid) in info.value.msg and "lock_timeout" in info.value.msg
    finally:
        release.set()
        other.join(30)
    with held(path, "the gateway container gw", 5):  # the holder ended: the lock went with it
        pass


def test_the_second_run_waits_for_the_first(tmp_path):
    path = str(tmp_path / "proxy.lock")
    other, release = holder(path)
    release.set()  # the holder finishes while we wait
    with held(path, "the proxy directory", 30):
        other.join(30)
        assert other.exitcode == 0, "we got the lock only once the holder was done"


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    path = str(tmp_path / "killed.lock")
    other, _release = holder(path)
    other.kill()
    other.join(30)
    with held(path, "x", 5):
        assert os.path.exists(path)


def test_bad_timeout_and_lock_names():
    with pytest.raises(InputError):
        with held("/nonexistent/x.lock", "x", -1):
            pass
    assert proxy_lock_path("/etc/gitlab-ai-gateway/nginx").endswith("proxy-etc_gitlab-ai-gateway_nginx.lock")


# -- the lease of a playbook run ------------------------------------------------------------------------------

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils import _lock  # noqa: E402
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import (  # noqa: E402
    CONTAINERS, PROXY_DIRS, acquire, blocking_lease, release)


class Clock:
    """Seconds that pass only when told to (sleep advances them)."""

    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def lease_params(run_id, **given):
    params = dict(name="gw", state="held", run_id=run_id, playbook="install.yml", control_node="ctl", control_pid=4242,
                  control_user="ops", containers=["gw-surge"], proxy_dirs=["/srv/proxy"], ttl=600, break_run=None,
                  lock_timeout=0)
    params.update(given)
    return params


def take(tmp_path, clock, run_id, **given):
    return acquire(lease_params(run_id, **given), directory=str(tmp_path), clock=clock, sleep=clock.sleep)


def test_a_lease_is_written_0600_names_its_run_and_what_it_covers(tmp_path):
    clock = Clock()
    result = take(tmp_path, clock, "run-a")
    assert result["held"] and result["changed"] is False and result["taken_over"] == []
    path = tmp_path / "lease-gw.json"
    assert result["path"] == str(path) and path.stat().st_mode & 0o777 == 0o600
    lease = result["lease"]
    assert (lease["run_id"], lease["playbook"], lease["control_node"], lease["control_pid"], lease["control_user"]) == (
        "run-a", "install.yml", "ctl", 4242, "ops")
    assert lease["covers"] == {CONTAINERS: ["gw", "gw-surge"], PROXY_DIRS: ["/srv/proxy"]}
    assert lease["expires"] == clock.now + 600 and lease["expires_in"] == 600 and lease["live"]


def test_another_run_waits_then_fails_naming_the_holder(tmp_path):
    clock = Clock()
    take(tmp_path, clock, "run-a")
    started = clock.now
    with pytest.raises(DuoError) as info:
        take(tmp_path, clock, "run-b", lock_timeout=30)
    assert clock.now - started >= 30, "it waited lock_timeout before failing"
    message = info.value.msg
    assert message.startswith("This gateway host is leased to another run: run run-a (install.yml from ctl pid "
                              "4242 as ops), started ")
    assert "waited 30 s" in message and "ai_gateway_lease_break=run-a" in message
    assert info.value.details["holder"]["run_id"] == "run-a"


def test_a_lease_covering_the_same_proxy_directory_under_another_name_also_conflicts(tmp_path):
    clock = Clock()
    take(tmp_path, clock, "run-a")
    with pytest.raises(DuoError):
        take(tmp_path, clock, "run-b", name="other-gw", containers=[], proxy_dirs=["/srv/proxy/"])
    assert take(tmp_path, clock, "run-b", name="other-gw", containers=[], proxy_dirs=["/srv/other"])["held"]


def test_the_same_run_renews_its_lease_and_keeps_its_start(tmp_path):
    clock = Clock()
    first = take(tmp_path, clock, "run-a")["lease"]
    clock.sleep(500)
    again = take(tmp_path, clock, "run-a")["lease"]
    assert again["started"] == first["started"] and again["expires"] == clock.now + 600


def test_the_wait_ends_when_the_holder_releases(tmp_path):
    clock = Clock()
    take(tmp_path, clock, "run-a")

    def sleep(seconds):
        clock.sleep(seconds)
        if clock.now - start >= 5:  # the holder finishes while run-b waits
            release(lease_params("run-a", state="released"), directory=str(tmp_path), clock=clock)

    start = clock.now
    result = acquire(lease_params("run-b", lock_timeout=60), directory=str(tmp_path), clock=clock, sleep=sleep)
    assert result["held"] and result["lease"]["run_id"] == "run-b" and 5 <= clock.now - start < 60


def test_an_expired_lease_is_taken_over_and_reported(tmp_path):
    clock = Clock()
    take(tmp_path, clock, "run-killed")
    clock.sleep(601)
    result = take(tmp_path, clock, "run-b")
    assert result["held"] and result["lease"]["run_id"] == "run-b"
    assert [(old["run_id"], old["why"]) for old in result["taken_over"]] == [("run-killed", "expired")]


def test_break_run_takes_over_that_run_only(tmp_path):
    clock = Clock()
    take(tmp_path, clock, "run-a")
    with pytest.raises(DuoError):
        take(tmp_path, clock, "run-b", break_run="run-other")
    result = take(tmp_path, clock, "run-b", break_run="run-a")
    assert result["lease"]["run_id"] == "run-b"
    assert [(old["run_id"], old["why"]) for old in result["taken_over"]] == [("run-a", "broken")]


def test_check_mode_writes_and_waits_for_nothing_and_says_who_holds_it(tmp_path):
    clock = Clock()
    seen = acquire(lease_params("run-a", lock_timeout=300), check_mode=True, directory=str(tmp_path), clock=clock)
    assert seen["held"] and not (tmp_path / "lease-gw.json").exists()
    take(tmp_path, clock, "run-a")
    seen = acquire(lease_params("run-b", lock_timeout=300), check_mode=True, directory=str(tmp_path), clock=clock,
                   sleep=clock.sleep)
    assert seen["held"] is False and seen["holder"]["run_id"] == "run-a" and clock.now == Clock().now


def test_release_gives_back_only_the_runs_own_lease(tmp_path):
    clock = Clock()
    take(tmp_path, clock, "run-a")
    other = release(lease_params("run-b", state="released"), directory=str(tmp_path), clock=clock)
    assert other["released"] is False and other["holder"]["run_id"] == "run-a"
    assert (tmp_path / "lease-gw.json").exists()
    mine = release(lease_params("run-a", state="released"), directory=str(tmp_path), clock=clock)
    assert mine["released"] and not (tmp_path / "lease-gw.json").exists()
    assert release(lease_params("run-a", state="released"), directory=str(tmp_path), clock=clock)["released"] is False


def test_modules_are_blocked_by_another_runs_live_lease_and_renew_their_own(tmp_path):
    clock = Clock()
    take(tmp_path, clock, "run-a")
    assert blocking_lease("run-b", CONTAINERS, "gw-surge", str(tmp_path), clock.now)["run_id"] == "run-a"
    assert blocking_lease(None, PROXY_DIRS, "/srv/proxy/", str(tmp_path), clock.now)["run_id"] == "run-a"
    assert blocking_lease("run-b", CONTAINERS, "unrelated", str(tmp_path), clock.now) is None
    clock.sleep(500)
    assert blocking_lease("run-a", CONTAINERS, "gw", str(tmp_path), clock.now) is None
    lease = _lock._read_leases(str(tmp_path))["gw"]
    assert lease["expires"] == clock.now + 600, "the holder's own change renewed it"
    clock.sleep(601)
    assert blocking_lease("run-b", CONTAINERS, "gw", str(tmp_path), clock.now) is None, "expired"


def test_held_waits_for_a_lease_of_another_run_then_fails_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(_lock, "lock_directory", lambda: str(tmp_path))
    take(tmp_path, Clock(_lock.time.time()), "run-a")
    path = str(tmp_path / "gateway-gw.lock")
    with pytest.raises(DuoError) as info:
        with held(path, "the gateway container gw", 1, lease=("run-b", CONTAINERS, "gw")):
            raise AssertionError("must not change what another run's lease covers")
    assert info.value.msg.startswith("The gateway container gw is leased to another run: run run-a (install.yml")
    assert "waited 1 s" in info.value.msg
    with held(path, "the gateway container gw", 1, lease=("run-a", CONTAINERS, "gw")):
        pass  # the holder's own change goes ahead
    with held(path, "the gateway container gw-other", 1, lease=(None, CONTAINERS, "gw-other")):
        pass  # nothing leased covers it


@pytest.mark.parametrize("given, field", [
    ({"run_id": "run a"}, "run_id"), ({"run_id": "run\na"}, "run_id"), ({"break_run": "x;y"}, "break_run"),
    ({"ttl": 5}, "ttl"), ({"ttl": True}, "ttl"), ({"lock_timeout": -1}, "lock_timeout"), ({"name": "../x"}, "name"),
])
def test_bad_lease_input_is_refused_before_anything_is_written(tmp_path, given, field):
    params = lease_params(given.pop("run_id", "run-a"), **given)
    with pytest.raises(InputError) as info:
        acquire(params, directory=str(tmp_path))
    assert info.value.details["field"] == field and list(tmp_path.iterdir()) == []
