# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway container, declared and reconciled with the Docker SDK (private to gitlab_duo.self_hosted).

``GatewaySpec`` is what the caller wants; ``observe`` reads what runs; ``plan`` lists the
differences; ``GatewayManager`` applies them. A changed container is replaced safely: the old one
is stopped and kept aside until the new one is healthy, and is put back if the new one is not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ansible.module_utils.basic import env_fallback

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway_env import (
    api_port, is_secret_name, is_true, mask_env)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import gateway_health

try:
    import docker
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound
    HAS_DOCKER = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_DOCKER = False

# The docker_host option every Docker-facing module takes (documented in the doc fragment gitlab_duo.self_hosted.docker).
DOCKER_HOST_OPTION = dict(type="str", fallback=(env_fallback, ["DOCKER_HOST"]))
# Options every container this collection runs takes (the gateway, the NGINX proxy); ensure_image owns the pull
# policies. Documented by the gitlab_duo.self_hosted.docker.container doc fragment.
DEFAULT_GATEWAY_NAME = "gitlab-ai-gateway"
# The gateway container a module works on; documented by the gitlab_duo.self_hosted.docker.gateway fragment.
GATEWAY_NAME_OPTION = dict(type="str", default=DEFAULT_GATEWAY_NAME)
RESTART_POLICY_OPTION = dict(type="str", default="always", choices=["no", "always", "unless-stopped", "on-failure"])
PULL_OPTION = dict(type="str", default="missing", choices=["missing", "always", "never"])
MANAGED_LABEL = "gitlab_duo.self_hosted.managed"
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


def docker_client(docker_host=None, timeout=60):
    if not HAS_DOCKER:
        raise DuoError("The Docker SDK for Python is missing on this host. Fix: pip install docker")
    try:
        client = docker.DockerClient(base_url=docker_host, timeout=timeout) if docker_host \
            else docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        raise DuoError("Cannot reach the Docker engine ({0}). Fix: start Docker (systemctl start docker), "
                       "or set docker_host / DOCKER_HOST to where it listens.".format(exc))
    return client


def find(client, name):
    try:
        return client.containers.get(name)
    except NotFound:
        return None


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
        for secret in secrets:
            text = text.replace(secret, "<redacted>")
        return text.splitlines()[-LOG_LINES:]

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
                self.ensure_network(spec.network_mode)
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

    def ensure_network(self, name):
        if not self.client.networks.list(names=[name]):
            self.client.networks.create(name, driver="bridge")

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

    def remove(self):
        existing = find(self.client, self.spec.name)
        if existing is not None and not self.check_mode:
            existing.remove(force=True)
        return existing is not None

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


def ensure_image(client, image, pull="missing", platform=None, check_mode=False):
    """The local image id of ``image`` after applying the pull policy (None in check mode when absent)."""
    local = None
    try:
        local = client.images.get(image)
    except ImageNotFound:
        pass
    if pull == "never" and local is None:
        raise DuoError("Image {0} is not on this host and pull=never. Fix: load it first (air-gapped: "
                       "docker load from the bundle), or allow pulling.".format(image))
    if (pull == "always" or local is None) and not check_mode:
        repository, tag = split_image(image)
        try:
            local = client.images.pull(repository, tag=tag, platform=platform)
        except (APIError, DockerException) as exc:
            raise DuoError("Cannot pull {0}: {1}. Fix: check registry access from this host, or load the image "
                           "from an archive (air-gapped).".format(image, exc))
    return local.id if local is not None else None


def split_image(reference):
    """('registry/repo', 'tag') from 'registry/repo:tag' (a registry port is not a tag)."""
    if "@" in reference:
        return reference.split("@", 1)[0], reference.split("@", 1)[1]
    repository, _sep, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        return reference, None
    return repository, tag


def describe(health):
    for step in ("healthz", "root"):
        result = health.get(step)
        if result and not result["ok"]:
            return "{0}: {1}".format(result["url"], result["error"])
    return "no answer"


def explain(exc):
    text = str(exc)
    if "port is already allocated" in text or "address already in use" in text:
        return text + " - another process or container uses that port. Fix: free it or choose another port."
    if "platform" in text and "does not match" in text:
        return text + " - Fix: set platform=linux/amd64."
    return text
