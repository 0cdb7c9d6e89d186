# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker layer every container this collection runs shares (private to gitlab_duo.self_hosted).

One way to reach the engine, find a container, apply a pull policy, read and build image references, and the
options and labels the gateway and the NGINX proxy have in common. Nothing here knows what a gateway is.
"""

from __future__ import annotations

import time

from ansible.module_utils.basic import env_fallback

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

try:
    import docker
    # ContainerError is for nginx's validation run (imported from here, like the rest).
    from docker.errors import APIError, ContainerError, DockerException, ImageNotFound, NotFound  # pylint: disable=unused-import
    # RequestException is for callers: a lost or slow engine raises the HTTP layer's error, not Docker's.
    from requests.exceptions import RequestException  # pylint: disable=unused-import
    from docker.utils.socket import consume_socket_output, frames_iter
    HAS_DOCKER = True
except ImportError:  # pragma: no cover - docker_client() says how to install it before any of these is raised
    HAS_DOCKER = False
    APIError = ContainerError = DockerException = ImageNotFound = NotFound = RequestException = Exception
    consume_socket_output = frames_iter = None

# The docker_host option every Docker-facing module takes (documented in the doc fragment gitlab_duo.self_hosted.docker).
DOCKER_HOST_OPTION = dict(type="str", fallback=(env_fallback, ["DOCKER_HOST"]))
# Options every container this collection runs takes (the gateway, the NGINX proxy); ensure_image owns the pull
# policies. Documented by the gitlab_duo.self_hosted.docker.container doc fragment.
RESTART_POLICY_OPTION = dict(type="str", default="always", choices=["no", "always", "unless-stopped", "on-failure"])
PULL_OPTION = dict(type="str", default="missing", choices=["missing", "always", "never"])
LABELS_OPTION = dict(type="dict", default={})
# Where a published port listens on the host (fragment gitlab_duo.self_hosted.docker.bind_address).
BIND_ADDRESS_OPTION = dict(type="str", default="0.0.0.0")
# Credentials for the registry an image comes from (an internal mirror); fragment
# gitlab_duo.self_hosted.docker.registry_auth. Modules declare them required_together.
REGISTRY_USERNAME_OPTION = dict(type="str")
REGISTRY_PASSWORD_OPTION = dict(type="str", no_log=True)
# Every container the collection creates carries this label, so reports and clean-ups can tell ours from others.
MANAGED_LABEL = "gitlab_duo.self_hosted.managed"


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


def remove(client, name, check_mode=False):
    """Remove container ``name`` if it exists; True when there was one."""
    existing = find(client, name)
    if existing is not None and not check_mode:
        existing.remove(force=True)
    return existing is not None


def ensure_network(client, name, check_mode=False):
    """A user-defined bridge network ``name``, created when missing; True when it was there already."""
    existed = bool(client.networks.list(names=[name]))
    if not existed and not check_mode:
        client.networks.create(name, driver="bridge")
    return existed


def auth_config(username=None, password=None):
    """What the SDK's pull takes as ``auth_config`` (sent to the engine in a header, never on a command line);
    None without a user: an anonymous pull."""
    return {"username": username, "password": password or ""} if username else None


def _names_registry(component):
    return "." in component or ":" in component or component == "localhost"


def registry_of(reference):
    """The registry host[:port] ``reference`` is pulled from, as Docker reads a reference: the first path component
    when it has a dot or a port or is localhost, else Docker Hub (docker.io)."""
    first, sep, _rest = reference.partition("/")
    return first if sep and _names_registry(first) else "docker.io"


def repository_path(name):
    """``name``'s repository path without its registry host ('registry.gitlab.com/group/gw' -> 'group/gw',
    'docker.io/library/nginx' -> 'library/nginx'); a name without a host is returned as it is."""
    first, sep, rest = name.strip("/").partition("/")
    return rest if sep and _names_registry(first) else name.strip("/")


def pull_failure(image, exc, auth=None):
    """Why a pull failed, with the fix: refused credentials and an untrusted certificate say what to set."""
    text = str(exc)
    if auth and auth.get("password"):
        text = text.replace(auth["password"], "********")
    lowered, registry = text.lower(), registry_of(image)
    if any(needle in lowered for needle in ("unauthorized", "authentication required", "no basic auth")):
        who = "the credentials of user {0!r}".format(auth["username"]) if auth else "an anonymous pull"
        return DuoError("Cannot pull {0}: the registry {1} refused {2} ({3}). Fix: set registry_username and "
                        "registry_password (ai_gateway_registry_username / ai_gateway_registry_password) to an "
                        "account that may pull from it.".format(image, registry, who, text), registry=registry)
    if "x509" in lowered or "certificate" in lowered:
        return DuoError("Cannot pull {0}: this host's Docker engine does not trust the TLS certificate of {1} ({2}). "
                        "Fix: put the organisation's CA at /etc/docker/certs.d/{1}/ca.crt on this host "
                        "(ai_gateway_registry_ca_cert does that).".format(image, registry, text), registry=registry)
    return DuoError("Cannot pull {0}: {1}. Fix: check registry access from this host, or load the image from an "
                    "archive (air-gapped).".format(image, text), registry=registry)


def ensure_image(client, image, pull="missing", platform=None, check_mode=False, auth=None):
    """The local image id of ``image`` after applying the pull policy (None in check mode when absent). ``auth``
    (from auth_config) goes with a pull."""
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
            local = client.images.pull(repository, tag=tag, platform=platform, auth_config=auth)
        except (APIError, DockerException) as exc:
            raise pull_failure(image, exc, auth)
    return local.id if local is not None else None


def split_image(reference):
    """('registry/repo', 'tag') from 'registry/repo:tag', ('registry/repo', 'sha256:...') from
    'registry/repo[:tag]@sha256:...'; a registry port is not a tag. The tag is None when there is none."""
    if "@" in reference:
        name, digest = reference.split("@", 1)
        return split_image(name)[0], digest
    repository, _sep, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        return reference, None
    return repository, tag


def image_tag(reference):
    """The tag of ``reference`` even when a digest pins it ('repo:tag@sha256:...' -> 'tag'); None without one."""
    name = reference.split("@", 1)[0]
    return split_image(name)[1]


def image_reference(registry_host, repository, tag, digest=None):
    """'host[:port]/repository:tag', pinned to ``digest`` ('...:tag@sha256:...') when one is given."""
    reference = "{0}/{1}:{2}".format(registry_host, repository.strip("/"), tag)
    return reference + "@" + digest if digest else reference


def exec_with_input(container, command, data, wait=10):
    """Run ``command`` in ``container`` with ``data`` (bytes) on its standard input, as ``docker exec -i``:
    (exit code, standard output and error interleaved, as bytes). Use it for what only the process may know: an
    exec's command line is shown by ``docker inspect`` of the exec and is in /proc/<pid>/cmdline for everyone
    in the container, its standard input is neither. The engine reports the exit code once the output ended
    (``wait`` seconds at most; None if it did not)."""
    api = container.client.api
    exec_id = api.exec_create(container.id, command, stdin=True, stdout=True, stderr=True)["Id"]
    stream = api.exec_start(exec_id, socket=True)
    try:
        # A UNIX socket comes as socket.SocketIO (its socket is _sock); TLS sockets and SSH channels send.
        getattr(stream, "_sock", stream).sendall(data)
        output = consume_socket_output(data for _stream, data in frames_iter(stream, tty=False))
    finally:
        stream.close()
    deadline = time.monotonic() + wait
    while True:
        exit_code = api.exec_inspect(exec_id).get("ExitCode")
        if exit_code is not None or time.monotonic() >= deadline:
            return exit_code, output
        time.sleep(0.1)


def explain(exc):
    """Docker's error text with the fix for the errors users meet most."""
    text = str(exc)
    if "port is already allocated" in text or "address already in use" in text:
        return text + " - another process or container uses that port. Fix: free it or choose another port."
    if "platform" in text and "does not match" in text:
        return text + " - Fix: set platform=linux/amd64."
    return text
