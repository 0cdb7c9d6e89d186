"""gateway_container's swap on the real engine: each step's fault (port taken, an image that exits, health failing,
a run killed between steps, an old container that bypasses authentication) leaves the declared, healthy gateway or
the last known-good one, never less."""

from .conftest import IMAGE
from .test_gateway_container import container_args, run_module

BYPASS = "AIGW_AUTH__BYPASS_EXTERNAL=true"


def ours(lab, run_id):
    return sorted(c.name for c in lab.containers.list(all=True, filters={"label": "gitlab_duo.test=" + run_id}))


def first_run(lab, run_id, tmp_path):
    args = container_args(run_id, tmp_path)
    rc, result, _output = run_module("gateway_container", args)
    assert rc == 0 and result["health"]["ok"], result
    return args, result["container"]["id"]


def serving(lab, args, container_id):
    """The container named ``args['name']`` is ``container_id``, runs, and there is no '-previous'."""
    current = lab.containers.get(args["name"])
    return current.id == container_id and current.status == "running" \
        and not lab.containers.list(all=True, filters={"name": "^/" + args["name"] + "-previous$"})


def plant(lab, args, name, env=(), start=False, port=None):
    """A container of the lab image named ``name``, as an interrupted run (or an old deep test) leaves one."""
    ports = {"5052/tcp": ("127.0.0.1", port)} if port else None
    container = lab.containers.create(IMAGE + ":self-hosted-v18.2.2-ee", name=name, environment=list(env),
                                      labels=args["labels"], ports=ports, detach=True)
    if start:
        container.start()
    return container


def test_port_taken_by_the_new_container_puts_the_old_one_back(lab, run_id, tmp_path, busy_port):
    args, old = first_run(lab, run_id, tmp_path)
    rc, result, output = run_module("gateway_container", dict(args, published_port=busy_port))
    assert rc != 0 and result is not None, output
    assert result["step"] == "start" and "step 'start' failed" in result["msg"]
    assert "half-made container was removed" in result["msg"] and result["rolled_back"] is True
    assert serving(lab, args, old) and ours(lab, run_id) == [args["name"]]


def test_image_that_exits_is_removed_and_the_old_one_serves(lab, run_id, tmp_path):
    args, old = first_run(lab, run_id, tmp_path)
    exits = dict(args, env={"STANDIN_FAIL_START": "true"}, restart_policy="no")
    rc, result, _output = run_module("gateway_container", exits)
    assert rc != 0 and result["step"] == "health" and result["rolled_back"] is True
    assert any("told to fail at start-up" in line for line in result["logs"])
    assert serving(lab, args, old) and ours(lab, run_id) == [args["name"]]


def test_killed_after_create_keeps_the_known_good_container(lab, run_id, tmp_path):
    """Killed after the new container was created but before it was healthy: the next run removes the half-made
    one and puts the known-good one back (before the fix it removed the known-good one)."""
    args, old = first_run(lab, run_id, tmp_path)
    known_good = lab.containers.get(args["name"])
    known_good.stop(timeout=1)
    known_good.rename(args["name"] + "-previous")
    plant(lab, args, args["name"], env=["STANDIN_FAIL_START=true"], start=True)
    rc, result, _output = run_module("gateway_container", args)
    assert rc == 0 and result["interrupted_repair"] == "restored_previous", result
    assert result["health"]["ok"] and serving(lab, args, old)


def test_killed_before_removing_the_old_one_keeps_the_new_healthy_one(lab, run_id, tmp_path):
    args, old = first_run(lab, run_id, tmp_path)
    lab.containers.get(args["name"]).stop(timeout=1)
    lab.containers.get(args["name"]).rename(args["name"] + "-previous")
    rc, result, _output = run_module("gateway_container", dict(args, env={"STANDIN_MARK": "new"}))  # makes a new one
    assert rc == 0, result
    new = result["container"]["id"]
    assert result["interrupted_repair"] == "restored_previous" and new != old
    plant(lab, args, args["name"] + "-previous")  # as a run killed after health, before the removal, leaves it
    rc, result, _output = run_module("gateway_container", dict(args, env={"STANDIN_MARK": "new"}))
    assert rc == 0 and result["interrupted_repair"] == "removed_previous" and not result["changes"], result
    assert serving(lab, args, new)


def test_previous_container_that_bypasses_authentication_is_never_started(lab, run_id, tmp_path, busy_port):
    args = container_args(run_id, tmp_path, published_port=busy_port)  # the declared one cannot start
    plant(lab, args, args["name"] + "-previous", env=[BYPASS])
    rc, result, _output = run_module("gateway_container", args)
    assert rc != 0 and result["step"] == "start"
    assert ours(lab, run_id) == [], "fail closed: nothing runs, above all not the bypassing container"


def test_running_container_that_bypasses_authentication_is_removed_not_rolled_back(
        lab, run_id, tmp_path, busy_port):
    args = container_args(run_id, tmp_path, published_port=busy_port)
    plant(lab, args, args["name"], env=[BYPASS], start=True)
    rc, result, _output = run_module("gateway_container", args)
    assert rc != 0 and "was removed, not kept" in result["msg"] and result["rolled_back"] is False
    assert ours(lab, run_id) == []


def test_killed_after_stop_is_started_again(lab, run_id, tmp_path):
    args, old = first_run(lab, run_id, tmp_path)
    lab.containers.get(args["name"]).stop(timeout=1)
    rc, result, _output = run_module("gateway_container", args)
    assert rc == 0 and result["changes"] == ["running"] and serving(lab, args, old)
