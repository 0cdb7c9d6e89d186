"""Two runs on one host: the gateway's lock (and the proxy directory's) makes the second wait or fail clearly."""

import fcntl
import os
import sys
import threading

from .test_gateway_container import container_args, run_module

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, ".lab", "collections"))

# pylint: disable=wrong-import-position
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import (  # noqa: E402
    lock_directory, proxy_lock_path)


def test_two_runs_on_one_gateway_do_not_interleave(lab, run_id, tmp_path):
    args = container_args(run_id, tmp_path)
    results = [None, None]

    def run(index):
        results[index] = run_module("gateway_container", args)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert [rc for rc, _result, _output in results] == [0, 0], [r[2][-600:] for r in results]
    assert sorted(result["changed"] for _rc, result, _output in results) == [False, True]
    assert [c.name for c in lab.containers.list(all=True, filters={"label": "gitlab_duo.test=" + run_id})] \
        == [args["name"]]


def test_a_held_gateway_lock_fails_clearly_after_the_wait(lab, run_id, tmp_path):
    args = container_args(run_id, tmp_path, lock_timeout=1)
    path = os.path.join(lock_directory(), "gateway-{0}.lock".format(args["name"]))
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        rc, result, _output = run_module("gateway_container", args)
    os.unlink(path)
    assert rc != 0 and "Another run is changing the gateway container " + args["name"] in result["msg"]
    assert result["lock"] == path
    assert not lab.containers.list(all=True, filters={"label": "gitlab_duo.test=" + run_id})


def test_a_held_proxy_directory_lock_stops_the_certificate_run(tmp_path):
    cert_dir = tmp_path / "proxy" / "certs"
    args = {"mode": "self_signed_lab", "domains": ["gateway.duo-lab.test"], "cert_dir": str(cert_dir),
            "lock_timeout": 1}
    path = proxy_lock_path(str(tmp_path / "proxy"))
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        rc, result, _output = run_module("tls_certificate", args)
    assert rc != 0 and "Another run is changing the proxy directory" in result["msg"] and not cert_dir.exists()
    rc, result, _output = run_module("tls_certificate", args)
    os.unlink(path)
    assert rc == 0 and result["changed"]
