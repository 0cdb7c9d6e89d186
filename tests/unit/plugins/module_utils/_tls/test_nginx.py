import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.nginx import (
    container_workers, host_workers, reconcile, wait_drained)


@pytest.mark.parametrize("field, value", [("proxy_dir", "/etc/nginx;duo"), ("pid_file", "/run/n\ngx.pid"),
                                          ("proxy_container_name", "proxy name"), ("network", "net$work")])
def test_names_written_into_nginx_and_systemd_are_refused_before_anything(field, value):
    params = {"runtime": "host", "state": "present", "proxy_dir": "/etc/gitlab-ai-gateway/nginx",
              "pid_file": None, "proxy_container_name": "gitlab-ai-gateway-proxy", "network": "gitlab-ai-gateway"}
    params[field] = value

    def run_command(*_args, **_kwargs):
        raise AssertionError("nothing may run before the input is checked")

    with pytest.raises(InputError) as info:
        reconcile(params, False, run_command)
    assert field + "=" in info.value.msg and "Fix:" in info.value.msg


# -- draining after a reload ---------------------------------------------------------------------------------

def test_drained_when_every_worker_from_before_the_reload_has_exited():
    listings = iter([{11, 12, 20}, {12, 20, 21}, {20, 21}])  # 11 ends at once, 12 a little later; 20/21 are new
    ticks = iter([0.0, 0.0, 0.5, 1.0])
    result = wait_drained(lambda: next(listings), before={11, 12}, timeout=30, clock=lambda: next(ticks),
                          sleep=lambda _seconds: None)
    assert result == {"drained": True, "seconds": 1.0, "old_workers": 0}


def test_a_worker_still_busy_at_the_timeout_is_reported_not_waited_for():
    ticks = iter([0.0, 0.0, 3.0, 6.0])
    result = wait_drained(lambda: {11, 30}, before={11, 12}, timeout=5, clock=lambda: next(ticks),
                          sleep=lambda _seconds: None)
    assert result == {"drained": False, "seconds": 6.0, "old_workers": 1}


def test_workers_in_a_container_are_read_from_the_engines_process_list():
    class Container:
        @staticmethod
        def top():
            return {"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
                    "Processes": [["root", "100", "90", "0", "10:00", "?", "00:00:00", "nginx: master process nginx"],
                                  ["101", "110", "100", "0", "10:00", "?", "00:00:00", "nginx: worker process"],
                                  ["101", "111", "100", "0", "10:00", "?", "00:00:00",
                                   "nginx: worker process is shutting down"],
                                  ["101", "112", "100", "0", "10:00", "?", "00:00:00", "nginx: cache manager process"]]}
    assert container_workers(Container()) == {110, 111}


def make_process(proc, pid, parent, title, comm="nginx"):
    folder = proc / str(pid)
    folder.mkdir()
    (folder / "stat").write_text("{0} ({1}) S {2} 1 1 0 -1\n".format(pid, comm, parent))
    (folder / "cmdline").write_bytes(title.encode() + b"\0")


def test_workers_on_a_host_are_the_masters_children_titled_as_workers(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "self").mkdir()  # not a process number: ignored
    make_process(proc, 200, 1, "nginx: master process /usr/sbin/nginx -c /etc/gitlab-ai-gateway/nginx/nginx.conf")
    make_process(proc, 201, 200, "nginx: worker process")
    make_process(proc, 202, 200, "nginx: worker process is shutting down")
    make_process(proc, 203, 200, "nginx: cache loader process")
    make_process(proc, 300, 1, "nginx: worker process")  # another NGINX's worker
    make_process(proc, 301, 200, "nginx: worker process", comm="odd ) name")  # ')' in the command name
    pid_file = tmp_path / "nginx.pid"
    pid_file.write_text("200\n")
    assert host_workers(str(pid_file), proc=str(proc)) == {201, 202, 301}
    assert host_workers(str(tmp_path / "missing.pid"), proc=str(proc)) == set()


def test_a_drain_timeout_out_of_range_is_refused_before_anything():
    with pytest.raises(InputError) as raised:
        reconcile({"proxy_dir": "/etc/gitlab-ai-gateway/nginx", "drain_timeout": -1, "runtime": "host"}, False, None)
    assert "drain_timeout" in str(raised.value)
