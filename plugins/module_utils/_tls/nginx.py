# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NGINX in front of the gateway, in a container or from the host's packages (private to gitlab_duo.self_hosted).

The proxy directory on the host holds ``nginx.conf``, ``certs/`` and ``webroot/`` and is mounted read-only at
/etc/nginx/duo. A new configuration is tested with ``nginx -t`` in a throwaway container (same image, mounts
and network) before it replaces the running one; then NGINX reloads, it does not restart.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import (
    MANAGED_LABEL, APIError, ContainerError, DockerException, auth_config, docker_client, ensure_image, ensure_network,
    explain, find, remove)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import PROXY_DIRS, held, proxy_lock_path
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import (
    number_in_range, port_number, safe_name, safe_path)

DEFAULT_PROXY_NAME = "gitlab-ai-gateway-proxy"
# The proxy container (nginx_proxy, gateway_host_facts).
PROXY_NAME_OPTION = dict(type="str", default=DEFAULT_PROXY_NAME)
MOUNT = "/etc/nginx/duo"
STAGED_MOUNT = "/etc/nginx/duo-staged.conf"
CONFIG = "nginx.conf"


def container_command():
    return ["nginx", "-c", MOUNT + "/" + CONFIG, "-g", "daemon off;"]


def live_config(proxy_dir):
    path = os.path.join(proxy_dir, CONFIG)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read()


def validate(client, image, network, proxy_dir, config):
    """Run ``nginx -t`` on ``config`` in a throwaway container; DuoError quoting NGINX when it fails."""
    descriptor, path = tempfile.mkstemp(prefix="duo-nginx-", suffix=".conf")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(config)
        os.chmod(path, 0o644)
        volumes = {path: {"bind": STAGED_MOUNT, "mode": "ro"}}
        if os.path.isdir(proxy_dir):
            volumes[os.path.abspath(proxy_dir)] = {"bind": MOUNT, "mode": "ro"}
        options = dict(command=["nginx", "-t", "-c", STAGED_MOUNT], volumes=volumes, remove=True, stdout=True,
                       stderr=True)
        if network:
            options["network"] = network
        try:
            client.containers.run(image, **options)
        except ContainerError as exc:
            text = (exc.stderr or b"").decode("utf-8", "replace").strip()
            raise DuoError("NGINX rejected the new configuration (nginx -t); the running one keeps serving. "
                           "NGINX said: {0}".format(text.replace(STAGED_MOUNT, CONFIG)), nginx_error=text)
    finally:
        os.remove(path)


def promote(proxy_dir, config):
    os.makedirs(proxy_dir, mode=0o755, exist_ok=True)
    path = os.path.join(proxy_dir, CONFIG)
    with open(path + ".new", "w") as handle:
        handle.write(config)
    os.chmod(path + ".new", 0o644)
    os.replace(path + ".new", path)


def desired(image, network, proxy_dir, ports, restart_policy):
    return {"image": image, "network": network, "ports": ports, "restart_policy": restart_policy,
            "mounts": ["{0}:{1}:ro".format(os.path.abspath(proxy_dir), MOUNT)], "command": container_command(),
            "running": True}


def observe(container):
    host, config = container.attrs["HostConfig"], container.attrs["Config"]
    return {"image": config.get("Image"), "network": host.get("NetworkMode"),
            "ports": {port: "{0}:{1}".format(b[0].get("HostIp") or "0.0.0.0", b[0].get("HostPort"))
                      for port, b in (host.get("PortBindings") or {}).items() if b},
            "restart_policy": (host.get("RestartPolicy") or {}).get("Name"),
            "mounts": sorted(host.get("Binds") or []), "command": config.get("Cmd"),
            "running": bool(container.attrs["State"].get("Running"))}


def create(client, name, want, labels):
    ports = {port: tuple(binding.rsplit(":", 1)) for port, binding in want["ports"].items()}
    ports = {port: (address, int(number)) for port, (address, number) in ports.items()}
    all_labels = dict(labels or {})
    all_labels[MANAGED_LABEL] = "true"
    try:
        container = client.containers.create(
            want["image"], command=want["command"], name=name, detach=True, ports=ports,
            volumes=want["mounts"], network=want["network"], restart_policy={"Name": want["restart_policy"]},
            labels=all_labels)
        container.start()
    except (APIError, DockerException) as exc:
        raise DuoError("Docker refused to start the proxy container {0}: {1}".format(name, explain(exc)))
    return container


def reload(container):
    result = container.exec_run(["nginx", "-s", "reload", "-c", MOUNT + "/" + CONFIG])
    if result.exit_code != 0:
        raise DuoError("nginx -s reload failed in {0}: {1}".format(container.name, result.output.decode("utf-8", "replace")))


# What NGINX calls its workers in their process titles ("worker process", then "worker process is shutting
# down" once a reload told them to finish what they hold and exit: src/os/unix/ngx_process_cycle.c).
WORKER_TITLE = "worker process"


def container_workers(container):
    """PIDs of the NGINX workers in the container (``docker top``: the engine lists them; nothing runs inside)."""
    listing = container.top()
    titles = listing.get("Titles") or []
    pid, command = titles.index("PID"), titles.index("CMD")
    return {int(row[pid]) for row in listing.get("Processes") or [] if WORKER_TITLE in row[command]}


def host_workers(pid_file, proc="/proc"):
    """PIDs of the children of the NGINX master named in ``pid_file`` whose title says they are workers."""
    try:
        with open(pid_file) as handle:
            master = handle.read().strip()
    except OSError:
        return set()
    found = set()
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat")) as handle:
                # pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
                parent = handle.read().rsplit(")", 1)[1].split()[1]
            if parent != master:
                continue
            with open(os.path.join(proc, entry, "cmdline"), "rb") as handle:
                title = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except (OSError, IndexError):
            continue  # the process ended while we read it
        if WORKER_TITLE in title:
            found.add(int(entry))
    return found


def wait_drained(workers, before, timeout, interval=0.5, clock=time.monotonic, sleep=time.sleep):
    """After a reload: wait until every worker of ``before`` (the PIDs ``workers()`` gave before it) has exited -
    so every request in flight at the reload has ended - or ``timeout`` seconds passed (NGINX's own
    worker_shutdown_timeout ends them later). Returns dict(drained, seconds, old_workers)."""
    started = clock()
    while True:
        left = len(set(before) & workers())
        waited = clock() - started
        if left == 0 or waited >= timeout:
            return {"drained": left == 0, "seconds": round(waited, 2), "old_workers": left}
        sleep(interval)


def replace(client, name, want, labels):
    existing = find(client, name)
    if existing is not None:
        existing.remove(force=True)
    return create(client, name, want, labels)


# -- NGINX from the host's packages ------------------------------------------------------------------------

def host_validate(run_command, config, binary="nginx"):
    """``nginx -t`` on the host for ``config``; DuoError quoting NGINX when it fails."""
    descriptor, path = tempfile.mkstemp(prefix="duo-nginx-", suffix=".conf")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(config)
        rc, stdout, stderr = run_command([binary, "-t", "-c", path])
    finally:
        os.remove(path)
    if rc != 0:
        text = (stderr or stdout or "").strip().replace(path, CONFIG)
        raise DuoError("NGINX rejected the new configuration (nginx -t); the running one keeps serving. "
                       "NGINX said: {0}".format(text), nginx_error=text)


def nginx_installed(binary="nginx"):
    """Whether the host has NGINX where a package puts it."""
    return bool(shutil.which(binary, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])))


def host_commands(proxy_dir, given=None, binary="nginx"):
    """start/reload/status commands: the given ones (e.g. systemctl) or NGINX run directly with our config."""
    config = os.path.join(proxy_dir, CONFIG)
    commands = {"start": [binary, "-c", config], "reload": [binary, "-c", config, "-s", "reload"], "status": None}
    commands.update({key: value for key, value in (given or {}).items() if value})
    return commands


def host_running(run_command, proxy_dir, commands, pid_file):
    if commands.get("status"):
        return run_command(commands["status"])[0] == 0
    try:
        with open(pid_file or os.path.join(proxy_dir, "nginx.pid")) as handle:
            os.kill(int(handle.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def host_run(run_command, command, what):
    rc, stdout, stderr = run_command(command)
    if rc != 0:
        raise DuoError("{0} failed ({1}): {2}".format(what, " ".join(command), (stderr or stdout).strip()))


def present_on_host(params, check_mode, run_command):
    commands = host_commands(params["proxy_dir"], params["host_commands"])
    live = live_config(params["proxy_dir"])
    config_changed = live != params["config"]
    # In check mode before the package is installed there is no nginx to test with; the real run tests.
    if config_changed and (not check_mode or nginx_installed()):
        host_validate(run_command, params["config"])
    running = host_running(run_command, params["proxy_dir"], commands, params["pid_file"])
    result = {"config_changed": config_changed, "container_changed": False, "reloaded": False,
              "changed": config_changed or not running or params["state"] == "reloaded",
              "diff": {"before": live or "", "after": params["config"], "before_header": "nginx.conf (running)",
                       "after_header": "nginx.conf (declared)"}}
    if check_mode:
        return result
    if config_changed:
        promote(params["proxy_dir"], params["config"])
    if not running:
        host_run(run_command, commands["start"], "Starting NGINX")
    elif config_changed or params["state"] == "reloaded":
        pid_file = params["pid_file"] or os.path.join(params["proxy_dir"], "nginx.pid")
        before = host_workers(pid_file) if params.get("drain_timeout") else set()
        host_run(run_command, commands["reload"], "Reloading NGINX")
        result["reloaded"] = True
        if params.get("drain_timeout"):
            result["drain"] = wait_drained(lambda: host_workers(pid_file), before, params["drain_timeout"])
    return result


def present_in_container(params, check_mode, client):
    for field in ("image", "network"):
        if not params[field]:
            raise DuoError("{0} is required with mode=container. Fix: set it, or use mode=host.".format(field))
    port_number("http_port", params["http_port"])
    port_number("https_port", params["https_port"])
    network_exists = ensure_network(client, params["network"], check_mode)
    image_id = ensure_image(client, params["image"], params["pull"], check_mode=check_mode,
                            auth=auth_config(params.get("registry_username"), params.get("registry_password")))
    live = live_config(params["proxy_dir"])
    config_changed = live != params["config"]
    # In check mode on a new host there is no network (nor the gateway NGINX must resolve) or no image yet:
    # nginx -t cannot run there without creating or pulling things, so the real run checks the configuration.
    if config_changed and (not check_mode or (network_exists and image_id)):
        validate(client, params["image"], params["network"], params["proxy_dir"], params["config"])
    want = desired(params["image"], params["network"], params["proxy_dir"],
                   {"80/tcp": "{0}:{1}".format(params["bind_address"], params["http_port"]),
                    "443/tcp": "{0}:{1}".format(params["bind_address"], params["https_port"])},
                   params["restart_policy"])
    existing = find(client, params["proxy_container_name"])
    before = observe(existing) if existing is not None else {}
    container_changed = any(before.get(key) != value for key, value in want.items() if key != "running")
    result = {"config_changed": config_changed, "container_changed": container_changed, "reloaded": False,
              "diff": [{"before": live or "", "after": params["config"], "before_header": "nginx.conf (running)",
                        "after_header": "nginx.conf (declared)"},
                       {"before": before, "after": want}]}
    starting = existing is None or container_changed or not before.get("running")
    result["changed"] = config_changed or starting or params["state"] == "reloaded"
    if check_mode:
        return result
    if config_changed:
        promote(params["proxy_dir"], params["config"])
    if existing is None or container_changed:
        container = replace(client, params["proxy_container_name"], want, params["labels"])
    else:
        container = existing
        if not before.get("running"):
            container.start()
        elif config_changed or params["state"] == "reloaded":
            before = container_workers(container) if params.get("drain_timeout") else set()
            reload(container)
            result["reloaded"] = True
            if params.get("drain_timeout"):
                result["drain"] = wait_drained(lambda: container_workers(container), before,
                                               params["drain_timeout"])
    container.reload()
    if container.status != "running":
        logs = container.logs(tail=20).decode("utf-8", "replace")
        raise DuoError("The proxy container {0} is {1}. Its log: {2}".format(container.name, container.status, logs))
    result["container"] = {"name": container.name, "id": container.id, "status": container.status}
    return result


def check_names(params):
    """Names and paths that end up in NGINX's configuration, its command line or a systemd unit: safe
    characters only, checked before anything changes."""
    for field in ("proxy_dir", "pid_file"):
        if params.get(field):
            safe_path(field, params[field])
    for field in ("proxy_container_name", "network"):
        if params.get(field):
            safe_name(field, params[field])
    if params.get("drain_timeout"):
        number_in_range("drain_timeout", params["drain_timeout"], 0, 3600)


def reconcile(params, check_mode, run_command):
    """The nginx_proxy module's whole job, for NGINX from the host's packages or in a container."""
    check_names(params)
    if check_mode or not params.get("proxy_dir"):
        return apply(params, check_mode, run_command)
    with held(proxy_lock_path(params["proxy_dir"]), "the proxy directory " + params["proxy_dir"],
              params["lock_timeout"], lease=(params.get("run_id"), PROXY_DIRS, params["proxy_dir"])):
        return apply(params, check_mode, run_command)


def apply(params, check_mode, run_command):
    if params["runtime"] == "host":
        if params["state"] == "absent":
            raise DuoError("state=absent is for mode=container; stop the host's NGINX service instead.")
        return present_on_host(params, check_mode, run_command)
    client = docker_client(params["docker_host"])
    if params["state"] == "absent":
        return {"changed": remove(client, params["proxy_container_name"], check_mode)}
    return present_in_container(params, check_mode, client)
