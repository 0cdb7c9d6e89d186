# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway container, declared and reconciled with the Docker SDK (private to gitlab_duo.self_hosted).

``GatewaySpec`` is what the caller wants; ``observe`` reads what runs; ``plan`` lists the
differences; ``GatewayManager`` applies them. A changed container is replaced safely: the old one
is stopped and kept aside until the new one is healthy, and is put back if the new one is not.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import (
    MANAGED_LABEL, APIError, DockerException, docker_client, ensure_image, ensure_network, explain, find, remove)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.environment import (
    CA_BUNDLE_IN_CONTAINER, api_port, gateway_environment, is_secret_name, is_true, mask_env)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.jwt_keys import (
    JWT_KEY_VARIABLES, load_or_create)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.probe import describe, gateway_health
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.release import checked_image
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import redact
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import port_number

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
    health_timeout: int = 120
    health_url: str = None
    stop_timeout: int = 10

    @property
    def container_port(self):
        return api_port(self.env)

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
        self.image_id = ensure_image(self.client, self.spec.image, self.spec.pull, self.spec.platform, self.check_mode)
        return self.image_id

    # -- health ------------------------------------------------------------------------------------
    def health_url(self, container):
        spec = self.spec
        if spec.health_url:
            return spec.health_url.rstrip("/")
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
        deadline = time.monotonic() + self.spec.health_timeout
        base = self.health_url(container)
        healthz, root = None, None
        while True:
            container.reload()
            if container.status in ("exited", "dead") and container.attrs["RestartCount"] == 0 \
                    and self.spec.restart_policy == "no":
                break
            bypassed = is_true(self.spec.env.get("AIGW_AUTH__BYPASS_EXTERNAL"))
            healthz, root = gateway_health(base, deadline=min(deadline, time.monotonic() + 5), delay=0.5,
                                           expect_auth=not bypassed)
            if (healthz["ok"] and root and root["ok"]) or time.monotonic() >= deadline:
                break
        ok = bool(healthz and healthz["ok"] and root and root["ok"])
        return ok, {"url": base, "healthz": healthz, "root": root, "ok": ok}

    def last_logs(self, container):
        try:
            text = container.logs(tail=LOG_LINES).decode("utf-8", "replace")
        except (APIError, DockerException) as exc:
            return ["(could not read the container log: {0})".format(exc)]
        secrets = [value for key, value in self.spec.env.items()
                   if value and (key in self.spec.secret_names or is_secret_name(key))]
        return redact(text, secrets).splitlines()[-LOG_LINES:]

    # -- changes -----------------------------------------------------------------------------------
    def create(self):
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
                ensure_network(self.client, spec.network_mode)
                options["network"] = spec.network_mode
            ports = spec.port_bindings()
            if ports:
                binding = ports[next(iter(ports))][0]
                options["ports"] = {next(iter(ports)): (binding["HostIp"], int(binding["HostPort"]))}
        try:
            container = self.client.containers.create(**options)
            container.start()
        except (APIError, DockerException) as exc:
            raise DuoError("Docker refused to start container {0}: {1}".format(spec.name, explain(exc)))
        return container

    def restore_interrupted(self):
        """A replacement cut off half-way leaves '<name>-previous' and no '<name>': put it back."""
        previous = find(self.client, self.spec.name + PREVIOUS_SUFFIX)
        if previous is None:
            return None
        if find(self.client, self.spec.name) is not None:
            if not self.check_mode:
                previous.remove(force=True)
            return None
        if not self.check_mode:
            previous.rename(self.spec.name)
            previous.start()
        return previous

    def replace(self, existing):
        """Start the declared container; keep the old one aside until the new one is healthy."""
        previous = None
        if existing is not None:
            existing.stop(timeout=self.spec.stop_timeout)
            existing.rename(self.spec.name + PREVIOUS_SUFFIX)
            previous = existing
        try:
            container = self.create()
        except DuoError:
            self.roll_back(None, previous)
            raise
        ok, health = self.wait_healthy(container)
        if ok:
            if previous is not None:
                previous.remove(force=True)
            return container, health
        logs = self.last_logs(container)
        rolled_back = previous is not None
        if rolled_back:
            self.roll_back(container, previous)
        raise DuoError(
            "The gateway container {0} did not become healthy within {1} s at {2} ({3}).{4} Last log lines "
            "are in 'logs'. Fix: read them; check the environment, the image and the port.".format(
                self.spec.name, self.spec.health_timeout, health["url"], describe(health),
                " The previous container was put back and is serving." if rolled_back else ""),
            logs=logs, health=health, rolled_back=rolled_back, changed=True)

    def roll_back(self, container, previous):
        if container is not None:
            container.remove(force=True)
        if previous is not None:
            previous.rename(self.spec.name)
            previous.start()

    def restart(self, existing):
        if not self.check_mode:
            existing.restart(timeout=self.spec.stop_timeout)
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


def build_spec(params, client):
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
        pull=params["pull"], health_timeout=params["health_timeout"], health_url=params["health_url"],
        stop_timeout=params["stop_timeout"])


def describe_container(manager, container):
    container.reload()
    return {"name": container.name, "id": container.id, "image": container.attrs["Config"]["Image"],
            "image_id": container.attrs["Image"], "status": container.status,
            "health_url": manager.health_url(container)}


def ensure_present(params, manager, spec, client, check_mode):
    result = {"changed": False, "changes": [], "jwt_keys_generated": []}
    if manager.restore_interrupted() is not None:
        result.update(changed=True, restored_interrupted=True)
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
            existing.start()
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


def reconcile(params, check_mode=False):
    """The gateway_container module's whole job: validate every input before touching Docker, then make the
    container match the declaration (or remove it for state=absent)."""
    if params["state"] == "absent":
        removed = remove(docker_client(params["docker_host"]), params["name"], check_mode)
        return dict(changed=removed, changes=["container"] if removed else [],
                    diff={"before": {"name": params["name"]} if removed else {}, "after": {}})
    spec = build_spec(params, None)
    client = docker_client(params["docker_host"])
    if params["platform"] is None:
        spec = build_spec(params, client)
    return ensure_present(params, GatewayManager(client, spec, check_mode), spec, client, check_mode)
