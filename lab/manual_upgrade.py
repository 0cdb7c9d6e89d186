"""GitLab's documented manual upgrade of the AI gateway container, done on one Docker engine, so tests and
benchmarks can measure what it costs users (lab/traffic.py counts the failed requests).

The procedure, from GitLab's docs (doc/install/install_ai_gateway.md, "Upgrade the AI gateway Docker image"):
1. ``docker stop gitlab-aigw``  2. ``docker rm gitlab-aigw``  3. pull and run the new image (as in "Start a
container from the image")  4. make sure every environment variable is set again. Here step 4 is done right:
the new container gets the old one's configuration (environment, published ports, network, mounts, labels,
restart policy, extra hosts, command), read from the engine before the old container is removed.
"""

import time

DEFAULT_NETWORKS = ("", "default", "bridge")


def _overridden(values, image_values):
    """The entries of ``values`` the user set: those the image does not already carry with the same value."""
    image_values = set(image_values or [])
    return [value for value in values or [] if value not in image_values]


def run_options(container_attrs, image_attrs=None):
    """The keyword arguments of docker's ``containers.run`` that recreate the container described by
    ``container_attrs`` (``docker inspect`` of the container) as its user started it. ``image_attrs`` (``docker
    inspect`` of the image it runs) lets environment variables and labels that come from the image be left out,
    so the new image's own values (its version, for one) apply. Not carried: resource limits, health-check
    overrides, log configuration, network aliases and static addresses (the documented procedure does not
    mention them; the lab's gateways do not use them)."""
    config = container_attrs.get("Config") or {}
    host = container_attrs.get("HostConfig") or {}
    image_config = (image_attrs or {}).get("Config") or {}
    options = {"name": container_attrs["Name"].lstrip("/"), "detach": True}

    environment = _overridden(config.get("Env"), image_config.get("Env"))
    if environment:
        options["environment"] = environment
    image_labels = image_config.get("Labels") or {}
    labels = {key: value for key, value in (config.get("Labels") or {}).items() if image_labels.get(key) != value}
    if labels:
        options["labels"] = labels

    network_mode = host.get("NetworkMode") or ""
    if network_mode == "host" or network_mode.startswith("container:"):
        options["network_mode"] = network_mode  # ports are not published in these modes
    else:
        if network_mode not in DEFAULT_NETWORKS:
            options["network"] = network_mode
        ports = {}
        for port, bindings in sorted((host.get("PortBindings") or {}).items()):
            ports[port] = [(binding.get("HostIp") or "", int(binding["HostPort"]) if binding.get("HostPort") else None)
                           for binding in bindings or []]
        if ports:
            options["ports"] = ports

    if host.get("Binds"):
        options["volumes"] = list(host["Binds"])
    if host.get("Mounts"):
        options["mounts"] = [{"Target": mount["Target"], "Source": mount.get("Source"),
                              "Type": mount.get("Type", "volume"), "ReadOnly": bool(mount.get("ReadOnly"))}
                             for mount in host["Mounts"]]
    policy = host.get("RestartPolicy") or {}
    if policy.get("Name") not in (None, "", "no"):
        options["restart_policy"] = {"Name": policy["Name"], "MaximumRetryCount": policy.get("MaximumRetryCount", 0)}
    if host.get("ExtraHosts"):
        options["extra_hosts"] = list(host["ExtraHosts"])
    if config.get("Cmd") and config.get("Cmd") != image_config.get("Cmd"):
        options["command"] = list(config["Cmd"])
    return options


def _docker_options(options):
    """run_options' plain data turned into what the Docker SDK takes."""
    import docker  # pylint: disable=import-outside-toplevel
    options = dict(options)
    if "mounts" in options:
        options["mounts"] = [docker.types.Mount(mount["Target"], mount["Source"], type=mount["Type"],
                                                read_only=mount["ReadOnly"]) for mount in options["mounts"]]
    return options


def documented_upgrade(client, name, image, pull=True, stop_timeout=10):
    """Upgrade the container ``name`` to ``image`` the documented way: stop, rm, pull, run with the same
    configuration. ``client``: a docker.DockerClient; ``pull=False`` skips the pull (an image only built here).
    Returns {"name", "image_before", "image", "container_id", "options", "steps": [{"step", "seconds"}],
    "seconds"}; the gateway serves nothing from the stop until the new container listens."""
    import docker  # pylint: disable=import-outside-toplevel
    old = client.containers.get(name)
    old.reload()
    try:
        image_attrs = client.images.get(old.attrs["Image"]).attrs
    except docker.errors.ImageNotFound:  # the old image is gone: carry every variable and label
        image_attrs = None
    options = run_options(old.attrs, image_attrs)
    steps = []
    start = time.monotonic()

    def step(label, action):
        began = time.monotonic()
        value = action()
        steps.append({"step": label, "seconds": round(time.monotonic() - began, 3)})
        return value

    step("stop", lambda: old.stop(timeout=stop_timeout))
    step("rm", old.remove)
    if pull:
        step("pull", lambda: client.images.pull(image))
    new = step("run", lambda: client.containers.run(image, **_docker_options(options)))
    return {"name": name, "image_before": old.attrs["Config"]["Image"], "image": image, "container_id": new.id,
            "options": options, "steps": steps, "seconds": round(time.monotonic() - start, 3)}
