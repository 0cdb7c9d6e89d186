# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts a gateway host must satisfy before install (private to gitlab_duo.self_hosted)."""

from __future__ import annotations

import errno
import os
import socket

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import docker_client
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import is_local_host


def memory_bytes(meminfo="/proc/meminfo"):
    with open(meminfo) as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def free_bytes(path):
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def free_bytes_at(path):
    """Free bytes where ``path`` is or will be made: at its nearest existing directory (a staging directory that
    a later task creates lives on its parent's file system)."""
    path = os.path.abspath(path)
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return free_bytes(path)


def hostname_facts(name):
    facts = {"name": name, "is_local": is_local_host(name), "resolves": False, "addresses": []}
    try:
        infos = socket.getaddrinfo(name, None)
    except (socket.gaierror, UnicodeError):
        return facts
    facts["addresses"] = sorted({info[4][0] for info in infos})
    facts["resolves"] = True
    return facts


def port_in_use(address, port):
    """True when something already listens on address:port (tested by binding, not connecting)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # Like a server: connections in TIME_WAIT do not hold the port, a listener does.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError as exc:
        return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    finally:
        sock.close()
    return False


def port_owner(client, port):
    """Name of the container that publishes ``port``, or None."""
    for container in client.containers.list(all=True):
        bindings = container.attrs.get("HostConfig", {}).get("PortBindings") or {}
        for entries in bindings.values():
            if any(str(entry.get("HostPort")) == str(port) for entry in entries or []):
                return container.name
    return None


def port_facts(client, address, port, our_container):
    """{number, in_use, owner, ours} for a host port the collection wants to publish."""
    owner = port_owner(client, port) if client else None
    return {"number": port, "in_use": port_in_use(address, port), "owner": owner, "ours": owner == our_container}


def collect(params):
    """The gateway_host_facts module's answer: memory, the Docker engine, the ports, the host name and the free
    space where bundle archives are staged."""
    result = {"changed": False, "memory_bytes": memory_bytes(), "docker": {"reachable": False}}
    client = None
    try:
        client = docker_client(params["docker_host"], timeout=20)
        info = client.info()
        root = info.get("DockerRootDir") or "/var/lib/docker"
        result["docker"] = {"reachable": True, "version": info.get("ServerVersion"),
                            "architecture": info.get("Architecture"), "root_dir": root,
                            "root_free_bytes": free_bytes(root) if os.path.isdir(root) else None}
    except DuoError as exc:
        result["docker"]["error"] = exc.msg
    if params["port"] is not None:
        result["port"] = port_facts(client, params["bind_address"], params["port"], params["container_name"])
    result["proxy_ports"] = [port_facts(client, params["proxy_bind_address"], port, params["proxy_container_name"])
                             for port in params["proxy_ports"]]
    if params["hostname"]:
        result["hostname"] = hostname_facts(params["hostname"])
    if params["staging_dir"]:
        result["staging"] = {"path": params["staging_dir"], "exists": os.path.isdir(params["staging_dir"]),
                             "free_bytes": free_bytes_at(params["staging_dir"])}
    return result
