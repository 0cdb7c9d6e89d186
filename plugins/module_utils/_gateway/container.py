# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway container, declared and reconciled with the Docker SDK (private to gitlab_duo.self_hosted).

``GatewaySpec`` is what the caller wants; ``observe`` reads what runs; ``plan`` lists the
differences; ``GatewayManager`` applies them. A changed container is replaced safely: the old one
is stopped and kept aside until the new one is healthy, and is put back if the new one is not.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import (
    MANAGED_LABEL, APIError, DockerException, RequestException, auth_config, docker_client, ensure_image,
    ensure_network, explain, find, remove)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.environment import (
    CA_BUNDLE_IN_CONTAINER, api_hosts, api_port, auth_bypasses, bypass_text, gateway_environment, is_secret_name,
    mask_env)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.jwt_keys import (
    JWT_KEY_VARIABLES, load_or_create)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.probe import (
    describe, gateway_health, inside_health)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.release import checked_image
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import CONTAINERS, held, lock_directory
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import redact
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import (
    http_url, ip_of, number_in_range, port_number, safe_name)

DEFAULT_GATEWAY_NAME = "gitlab-ai-gateway"
# The gateway container a module works on; documented by the gitlab_duo.self_hosted.docker.gateway fragment.
GATEWAY_NAME_OPTION = dict(type="str", default=DEFAULT_GATEWAY_NAME)
ENV_KEYS_LABEL = "gitlab_duo.self_hosted.env_keys"
PREVIOUS_SUFFIX = "-previous"
LOG_LINES = 40


@dataclass
class GatewaySpec:
    name: str
    image: str
    env: dict
    secret_names: tuple = ()
    network_mode: str = "bridge"
    published_port: int = None
    bind_address: str = "0.0.0.0"
    restart_policy: str = "always"
    binds: list = field(default_factory=list)
    platform: str = None
    labels: dict = field(default_factory=dict)
    pull: str = "missing"
    # The registry credentials for a pull (auth_config); never part of what is compared or shown.
    auth: dict = field(default=None, repr=False)
    health_timeout: int = 120
    health_url: str = None
    stop_timeout: int = 10

    @property
    def container_port(self):
        return api_port(self.env)

    @property
    def inside_only(self):
        """The gateway binds loopback (AIGW_FASTAPI__API_HOST) in a network namespace of its own: only processes in
        its container reach it, so its health is asked there (docker exec) unless health_url says where."""
        return self.network_mode != "host" and not self.health_url and on_loopback(api_hosts(self.env))

    def port_bindings(self):
        if self.published_port is None or self.network_mode == "host":
            return {}
        return {"{0}/tcp".format(self.container_port): [{"HostIp": self.bind_address,
                                                         "HostPort": str(self.published_port)}]}

    def desired(self):
        return {"image": self.image, "env": dict(self.env), "ports": self.port_bindings(),
                "network_mode": self.network_mode, "restart_policy": self.restart_policy,
                "mounts": sorted(self.binds), "running": True}


def observe(container, spec):
    """What runs, in the shape of ``GatewaySpec.desired()``; env limited to the variables we manage."""
    config, host = container.attrs["Config"], container.attrs["HostConfig"]
    actual_env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    labelled = (config.get("Labels") or {}).get(ENV_KEYS_LABEL, "")
    managed = set(spec.env) | {key for key in labelled.split(",") if key}
    network_mode = host.get("NetworkMode") or "bridge"
    return {
        "image": config.get("Image"),
        "env": {key: actual_env[key] for key in sorted(managed) if key in actual_env},
        "ports": {port: [{"HostIp": b.get("HostIp") or "0.0.0.0", "HostPort": b.get("HostPort")} for b in bindings]
                  for port, bindings in (host.get("PortBindings") or {}).items() if bindings},
        "network_mode": "bridge" if network_mode == "default" else network_mode,
        "restart_policy": (host.get("RestartPolicy") or {}).get("Name") or "no",
        "mounts": sorted(host.get("Binds") or []),
        "running": bool(container.attrs["State"].get("Running")),
    }


def plan(before, after):
    """Names of the fields that differ; ``running`` alone needs a start, anything else a new container."""
    if before is None:
        return ["container"]
    return [key for key in after if before.get(key) != after[key]]


def shown(state, spec):
    """A state with secrets masked, for diff output."""
    if state is None:
        return {}
    masked = dict(state)
    masked["env"] = mask_env(state["env"], spec.secret_names)
    return masked


class GatewayManager:
    def __init__(self, client, spec, check_mode=False):
        self.client = client
        self.spec = spec
        self.check_mode = check_mode
        self.image_id = None

    # -- image -------------------------------------------------------------------------------------
    def ensure_image(self):
        self.image_id = ensure_image(self.client, self.spec.image, self.spec.pull, self.spec.platform, self.check_mode,
                                     self.spec.auth)
        return self.image_id

    # -- health ------------------------------------------------------------------------------------
    def health_url(self, container):
        spec = self.spec
        if spec.health_url:
            return spec.health_url.rstrip("/")
        if spec.inside_only:  # the address it binds, asked inside its container
            host = api_hosts(spec.env)[0]
            return "http://{0}:{1}".format("[{0}]".format(host) if ":" in host else host, spec.container_port)
        if spec.network_mode == "host":
            return "http://127.0.0.1:{0}".format(spec.container_port)
        if spec.published_port is not None:
            host = spec.bind_address if spec.bind_address not in ("", "0.0.0.0", "::") else "127.0.0.1"
            return "http://{0}:{1}".format(host, spec.published_port)
        container.reload()
        for network in (container.attrs["NetworkSettings"].get("Networks") or {}).values():
            if network.get("IPAddress"):
                return "http://{0}:{1}".format(network["IPAddress"], spec.container_port)
        raise DuoError("Cannot tell how to reach container {0} for its health check. Fix: publish a port "
                       "or set health_url.".format(spec.name))

    def wait_healthy(self, container):
        """(ok, health): /monitoring/healthz = 200 and the 401 root within ``health_timeout``. A container that
        exits, or that the engine cannot report on, is unhealthy (never an exception)."""
        deadline = time.monotonic() + self.spec.health_timeout
        base, healthz, root = None, None, None
        try:
            base = self.health_url(container)
            while True:
                container.reload()
                if container.status in ("exited", "dead") and container.attrs["RestartCount"] == 0 \
                        and self.spec.restart_policy == "no":
                    break
                if self.spec.inside_only:
                    healthz, root = inside_health(self.run_inside(container), base,
                                                  deadline=min(deadline, time.monotonic() + 5), delay=0.5,
                                                  expect_auth=not auth_bypasses(self.spec.env))
                else:
                    healthz, root = gateway_health(base, deadline=min(deadline, time.monotonic() + 5), delay=0.5,
                                                   expect_auth=not auth_bypasses(self.spec.env))
                if (healthz["ok"] and root and root["ok"]) or time.monotonic() >= deadline:
                    break
        except (DockerException, RequestException) as exc:  # the engine, or the HTTP layer to it
            healthz = {"url": base or self.spec.name, "ok": False, "error": "the Docker engine: " + explain(exc)}
        ok = bool(healthz and healthz["ok"] and root and root["ok"])
        return ok, {"url": base, "healthz": healthz, "root": root, "ok": ok,
                    "inside_container": self.spec.inside_only}

    @staticmethod
    def run_inside(container):
        """``run(argv) -> (exit code, output)`` in ``container`` (docker exec); a container that is not running (yet,
        or any more) gives no answer this time, (None, why), and the health wait goes on."""
        def run(argv):
            try:
                answer = container.exec_run(argv)
            except APIError as exc:
                return None, explain(exc)
            return answer.exit_code, answer.output.decode("utf-8", "replace")
        return run

    def last_logs(self, container):
        try:
            text = container.logs(tail=LOG_LINES).decode("utf-8", "replace")
        except (DockerException, RequestException) as exc:  # the engine, or the HTTP layer to it
            return ["(could not read the container log: {0})".format(exc)]
        secrets = [value for key, value in self.spec.env.items()
                   if value and (key in self.spec.secret_names or is_secret_name(key))]
        return redact(text, secrets).splitlines()[-LOG_LINES:]

    # -- safety ------------------------------------------------------------------------------------
    def unsafe_bypass(self, container):
        """The authentication bypasses ``container`` runs with although the declaration has none ([] when
        none): such a container is never started again, only removed."""
        if auth_bypasses(self.spec.env):
            return []
        config = container.attrs["Config"]
        return auth_bypasses(dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item))

    def step(self, step, action, fix, **details):
        """Run one Docker call of a change; an engine error becomes a DuoError naming the step and the fix."""
        try:
            return action()
        except (DockerException, RequestException) as exc:  # the engine, or the HTTP layer to it
            raise DuoError("Gateway container {0}: step '{1}' failed: {2}. Fix: {3}".format(
                self.spec.name, step, explain(exc), fix), step=step, **details)

    def attempt(self, action):
        """Run one Docker call of a repair; the engine's error text, or None when it worked."""
        try:
            action()
        except (DockerException, RequestException) as exc:  # the engine, or the HTTP layer to it
            return explain(exc)
        return None

    # -- changes -----------------------------------------------------------------------------------
    def create(self):
        """Create and start the declared container; when start fails the half-made container is removed."""
        spec = self.spec
        labels = dict(spec.labels)
        labels[MANAGED_LABEL] = "true"
        labels[ENV_KEYS_LABEL] = ",".join(sorted(spec.env))
        options = dict(image=spec.image, name=spec.name, environment=spec.env, labels=labels, detach=True,
                       restart_policy={"Name": spec.restart_policy}, volumes=spec.binds or None)
        if spec.platform:
            options["platform"] = spec.platform
        if spec.network_mode == "host":
            options["network_mode"] = "host"
        else:
            if spec.network_mode != "bridge":
                self.step("network", lambda: ensure_network(self.client, spec.network_mode),
                          "check the network name and the Docker engine")
                options["network"] = spec.network_mode
            ports = spec.port_bindings()
            if ports:
                binding = ports[next(iter(ports))][0]
                options["ports"] = {next(iter(ports)): (binding["HostIp"], int(binding["HostPort"]))}
        container = self.step("create", lambda: self.client.containers.create(**options),
                              "check the image, the name and the options", changed=True)
        try:
            self.step("start", container.start, "check the port, the mounts and the image", changed=True)
        except DuoError as exc:
            left = self.attempt(lambda: container.remove(force=True))
            if left:
                exc.msg += " The half-made container could not be removed ({0}); docker rm -f {1}.".format(
                    left, spec.name)
            else:
                exc.msg += " The half-made container was removed."
            exc.args = (exc.msg,)
            raise
        return container

    def restore_interrupted(self):
        """Repair what a replacement cut off at any step left behind: '<name>-previous' (the last known-good
        container) with or without a '<name>' that may be half-made. The known-good container is removed only
        when '<name>' passes health now, or when it runs with an authentication bypass the declaration does not
        ask for (then it is never started). Returns what was done, or None when there was nothing to repair."""
        name = self.spec.name
        previous = find(self.client, name + PREVIOUS_SUFFIX)
        if previous is None:
            return None
        current = find(self.client, name)
        fix = "check the Docker engine, then run again"
        if self.unsafe_bypass(previous):
            if not self.check_mode:
                self.step("remove " + previous.name, lambda: previous.remove(force=True), fix, changed=True)
            return "removed_bypassing_previous"
        if current is not None:
            if not self.unsafe_bypass(current) and current.status == "running" and self.wait_healthy(current)[0]:
                # The new container was healthy; the run stopped before it removed the old one.
                if not self.check_mode:
                    self.step("remove " + previous.name, lambda: previous.remove(force=True), fix, changed=True)
                return "removed_previous"
            if not self.check_mode:
                self.step("remove the half-made " + name, lambda: current.remove(force=True), fix, changed=True)
        if not self.check_mode:
            self.step("rename {0} back to {1}".format(previous.name, name), lambda: previous.rename(name), fix,
                      changed=True)
            self.step("start " + name, previous.start, "check the port and the Docker engine, then run again",
                      changed=True)
        return "restored_previous"

    def replace(self, existing):
        """Start the declared container; keep the old one aside until the new one is healthy. An old container
        that bypasses authentication against the declaration is removed instead, and never started again."""
        spec = self.spec
        previous, note = None, ""
        if existing is not None:
            bypasses = self.unsafe_bypass(existing)
            if bypasses:
                self.step("remove the old container", lambda: existing.remove(force=True),
                          "remove it by hand (docker rm -f {0}): it runs with {1}".format(
                              spec.name, bypass_text(bypasses)))
                note = (" The old container ran with {0} and was removed, not kept: no gateway serves until the "
                        "new one is healthy.".format(bypass_text(bypasses)))
            else:
                self.step("stop the old container", lambda: existing.stop(timeout=spec.stop_timeout),
                          "check the Docker engine (journalctl -u docker); nothing was changed")
                try:
                    self.step("rename the old container", lambda: existing.rename(spec.name + PREVIOUS_SUFFIX),
                              "check the Docker engine and whether {0}{1} exists, then run again".format(
                                  spec.name, PREVIOUS_SUFFIX), changed=True)
                except DuoError as exc:
                    left = self.attempt(existing.start)
                    exc.msg += (" The old container was started again." if left is None else
                                " The old container could not be started again ({0}).".format(left))
                    exc.args = (exc.msg,)
                    raise
                previous = existing
        try:
            container = self.create()
        except DuoError as exc:
            raise self.roll_back(None, previous, exc.msg + note, exc.details)
        ok, health = self.wait_healthy(container)
        if ok:
            if previous is not None:
                # previous.name is the SDK's snapshot from before the rename: name it as the engine does now.
                self.step("remove " + spec.name + PREVIOUS_SUFFIX, lambda: previous.remove(force=True),
                          "run again: the next run removes it, since {0} is healthy".format(spec.name),
                          changed=True, health=health)
            return container, health
        message = ("The gateway container {0} did not become healthy within {1} s at {2} ({3}). Last log lines "
                   "are in 'logs'. Fix: read them; check the environment, the image and the port.{4}".format(
                       spec.name, spec.health_timeout, health["url"], describe(health), note))
        raise self.roll_back(container if previous is not None else None, previous, message,
                             dict(logs=self.last_logs(container), health=health, step="health"))

    def roll_back(self, container, previous, message, details):
        """Remove the new ``container``, rename ``previous`` back and start it; the DuoError to raise, saying
        which of these worked."""
        details = dict(details, changed=True, rolled_back=False)
        if previous is None:
            return DuoError(message, **details)
        problems = []
        if container is not None:
            left = self.attempt(lambda: container.remove(force=True))
            if left:
                problems.append("the new container could not be removed: " + left)
        if not problems:
            left = self.attempt(lambda: previous.rename(self.spec.name)) or self.attempt(previous.start)
            if left:
                problems.append("the previous container could not be put back: " + left)
        if problems:
            message += (" Rolling back failed ({0}); the previous container is kept as {1}{2} and the next run "
                        "restores it.".format("; ".join(problems), self.spec.name, PREVIOUS_SUFFIX))
        else:
            message += " The previous container was put back and started."
            details["rolled_back"] = True
        return DuoError(message, **details)

    def restart(self, existing):
        if not self.check_mode:
            self.step("restart", lambda: existing.restart(timeout=self.spec.stop_timeout),
                      "check the Docker engine", changed=True)
        return self.health_or_fail(existing)

    def health_or_fail(self, container):
        if self.check_mode:
            return None
        ok, health = self.wait_healthy(container)
        if not ok:
            raise DuoError("The gateway container {0} is not healthy at {1} ({2}). Last log lines are in 'logs'. "
                           "Fix: read them; check the environment, the image and the port.".format(
                               self.spec.name, health["url"], describe(health)),
                           logs=self.last_logs(container), health=health)
        return health


def on_loopback(hosts):
    """Every address in ``hosts`` is a loopback address (in any notation); a name is not."""
    return all(ip_of(host) is not None and ip_of(host).is_loopback for host in hosts)


def loopback_only_while_bypassed(env, network_mode, port, bind_address):
    """While authentication is bypassed (the deep test) nothing but this host may reach the gateway, and no proxy:
    on the default bridge its published port on a loopback address (or none that reaches it); on the host network,
    and on a user-defined network (the TLS proxy's, where NGINX and every other container would reach it), its own
    API host (AIGW_FASTAPI__API_HOST, uvicorn's bind address) a loopback address, so only processes in its own
    network namespace (docker exec: the deep test) reach it. Never in another container's network namespace."""
    bypasses = auth_bypasses(env)
    if not bypasses:
        return
    why = "while authentication is bypassed ({0}) the gateway must listen on loopback only".format(
        bypass_text(bypasses))
    hosts = api_hosts(env)
    if network_mode.startswith("container:"):
        raise InputError("network_mode", network_mode, why + "; it would share the loopback of that container",
                         "run the bypassed gateway in a network namespace of its own")
    if network_mode == "bridge":
        if port is not None and not on_loopback([bind_address]) and not on_loopback(hosts):
            raise InputError("bind_address", bind_address, why, "set bind_address=127.0.0.1")
    elif not on_loopback(hosts):
        if network_mode != "host":
            why += "; every container on the network {0} (a TLS proxy too) would reach it".format(network_mode)
        raise InputError("env.AIGW_FASTAPI__API_HOST", ", ".join(hosts), why,
                         "set AIGW_FASTAPI__API_HOST=127.0.0.1 (only processes in the gateway's own network "
                         "namespace reach it then; the deep test runs there)")


def build_spec(params, client):
    safe_name("name", params["name"])
    number_in_range("health_timeout", params["health_timeout"], 1, 3600)
    number_in_range("stop_timeout", params["stop_timeout"], 1, 600)
    if params["health_url"]:
        http_url("health_url", params["health_url"])
    if ip_of(params["bind_address"]) is None:
        raise InputError("bind_address", params["bind_address"], "is not an IP address",
                         "give the address to publish on, e.g. 127.0.0.1 or 0.0.0.0")
    host_network = params["network_mode"] == "host"
    if host_network and params["published_port"] not in (None, 0):
        raise InputError("published_port", params["published_port"], "cannot be used with network_mode=host "
                         "(the gateway listens on the host's port 5052 directly)", "remove published_port")
    port = params["published_port"]
    if port is None and not host_network:
        port = 5052
    if port == 0:
        port = None
    if port is not None:
        port_number("published_port", port)
    binds = []
    if params["ca_bundle"]:
        if not os.path.isfile(params["ca_bundle"]):
            raise InputError("ca_bundle", params["ca_bundle"], "is not a file on the gateway host",
                             "copy the PEM bundle there first")
        binds.append("{0}:{1}:ro".format(params["ca_bundle"], CA_BUNDLE_IN_CONTAINER))
    env = gateway_environment(
        params["gitlab_url"], params["gitlab_api_url"], params["custom_models_enabled"], host_network,
        bool(params["ca_bundle"]), params["airgapped"], params["env"], params["secret_env"],
        params["allow_auth_bypass"])
    loopback_only_while_bypassed(env, params["network_mode"], port, params["bind_address"])
    platform = params["platform"]
    if platform is None and client is not None:
        architecture = client.info().get("Architecture", "")
        if architecture not in ("x86_64", "amd64"):
            platform = "linux/amd64"
    return GatewaySpec(
        name=params["name"], image=checked_image(params["image"]), env=env,
        secret_names=tuple(params["secret_env"]) + tuple(JWT_KEY_VARIABLES),
        network_mode=params["network_mode"], published_port=port, bind_address=params["bind_address"],
        restart_policy=params["restart_policy"], binds=binds, platform=platform, labels=params["labels"],
        pull=params["pull"], auth=auth_config(params.get("registry_username"), params.get("registry_password")),
        health_timeout=params["health_timeout"], health_url=params["health_url"],
        stop_timeout=params["stop_timeout"])


def describe_container(manager, container):
    container.reload()
    return {"name": container.name, "id": container.id, "image": container.attrs["Config"]["Image"],
            "image_id": container.attrs["Image"], "status": container.status,
            "health_url": manager.health_url(container)}


def ensure_present(params, manager, spec, client, check_mode):
    result = {"changed": False, "changes": [], "jwt_keys_generated": []}
    repaired = manager.restore_interrupted()
    if repaired is not None:
        result.update(changed=True, restored_interrupted=True, interrupted_repair=repaired)
    if params["manage_jwt_keys"]:
        keys_dir = params["jwt_keys_dir"] or os.path.join("/etc/gitlab-ai-gateway", spec.name)
        keys, created = load_or_create(keys_dir, params["jwt_keys"], check_mode)
        spec.env.update(keys)
        spec.env = dict(sorted(spec.env.items()))
        result["jwt_keys_generated"] = created
        result["changed"] = result["changed"] or bool(created)
    existing = find(client, spec.name)
    image_id = manager.ensure_image()
    before = observe(existing, spec) if existing is not None else None
    after = spec.desired()
    changes = plan(before, after)
    if existing is not None and image_id and existing.attrs["Image"] != image_id and "image" not in changes:
        changes.append("image_id")
    if existing is not None and manager.unsafe_bypass(existing):
        changes.append("auth_bypass")  # never started or kept: replaced, and the old one removed
    result["diff"] = {"before": shown(before, spec), "after": shown(after, spec)}
    result["changes"] = changes
    if not changes:
        if params["state"] == "restarted":
            result["changed"] = True
            result["health"] = manager.restart(existing)
        else:
            result["health"] = manager.health_or_fail(existing)
        container = existing
    elif changes == ["running"]:
        result["changed"] = True
        if not check_mode:
            manager.step("start", existing.start, "check the port and the Docker engine", changed=True)
        result["health"] = manager.health_or_fail(existing)
        container = existing
    else:
        result["changed"] = True
        if check_mode:
            return result
        container, result["health"] = manager.replace(existing)
    if not check_mode or existing is not None:
        result["container"] = describe_container(manager, container)
    return result


def gateway_lock(params, check_mode):
    """One run at a time per gateway container on this host, and none while another run's lease covers it (none in
    check mode, which changes nothing)."""
    if check_mode:
        return contextlib.nullcontext()
    return held(os.path.join(lock_directory(), "gateway-{0}.lock".format(params["name"])),
                "the gateway container " + params["name"], params["lock_timeout"],
                lease=(params.get("run_id"), CONTAINERS, params["name"]))


def reconcile(params, check_mode=False):
    """The gateway_container module's whole job: validate every input before touching Docker, then, holding the
    gateway's lock, make the container match the declaration (or remove it for state=absent)."""
    safe_name("name", params["name"])
    if params["state"] == "absent":
        with gateway_lock(params, check_mode):
            removed = remove(docker_client(params["docker_host"]), params["name"], check_mode)
        return dict(changed=removed, changes=["container"] if removed else [],
                    diff={"before": {"name": params["name"]} if removed else {}, "after": {}})
    spec = build_spec(params, None)
    client = docker_client(params["docker_host"])
    if params["platform"] is None:
        spec = build_spec(params, client)
    with gateway_lock(params, check_mode):
        return ensure_present(params, GatewayManager(client, spec, check_mode), spec, client, check_mode)
