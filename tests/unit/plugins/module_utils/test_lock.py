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
