"""What the service-layer unit tests share: a module's parameters as Ansible would pass them, a scripted HTTP server
on loopback, a recording run_command, and a small Docker engine behind the docker SDK's own model classes."""

import copy
import hashlib
import importlib
import itertools
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from docker.errors import APIError, ContainerError, ImageNotFound, NotFound
from docker.models.containers import Container, ExecResult, _create_container_args
from docker.models.images import Image
from docker.types import ContainerConfig

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls import certificates

MODULES = "ansible_collections.gitlab_duo.self_hosted.plugins.modules."
DOCKER_API_VERSION = "1.45"


# -- a module's parameters ----------------------------------------------------------------------------------

class _SpecSeen(Exception):
    pass


def module_params(module_name, base=None, **given):
    """``base`` updated with ``given``, validated against the argument spec module ``module_name``'s main() declares,
    defaults filled in: the dict the module hands its service function."""
    module = importlib.import_module(MODULES + module_name)
    with mock.patch.object(module, "AnsibleModule", side_effect=_SpecSeen) as seen:
        try:
            module.main()
        except _SpecSeen:
            pass
    spec = seen.call_args.kwargs["argument_spec"]
    result = ArgumentSpecValidator(spec).validate(dict(base or {}, **given))
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


# -- HTTP on loopback ---------------------------------------------------------------------------------------

class Answer:
    """What a route answers: a status, a body (a dict or list is sent as JSON) and headers."""

    def __init__(self, status=200, body=None, headers=None):
        self.status, self.body, self.headers = status, body, headers or {}

    def payload(self):
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        return (self.body or "").encode(), "text/plain"


class _Handler(BaseHTTPRequestHandler):
    server_version = "loopback-fake"

    def log_message(self, *args):
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        request = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": raw.decode()}
        self.server.fake.requests.append(request)
        route = self.server.fake.routes.get((self.command, self.path.split("?")[0]))
        answer = route(request) if callable(route) else route or Answer(404, {"message": "404 Not Found"})
        payload, content_type = answer.payload()
        headers = dict({"Content-Type": content_type}, **answer.headers)
        self.send_response(answer.status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_HEAD = _serve


class LoopbackHTTP:
    """A real HTTP server on 127.0.0.1 (port chosen by the OS) answering from ``routes``:
    {(method, path): Answer or function(request) -> Answer}; every request is kept in ``requests``."""

    def __init__(self, routes=None, ssl_context=None):
        self.routes = dict(routes or {})
        self.requests = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.server.fake = self
        self.port = self.server.server_address[1]
        self.url = "{0}://127.0.0.1:{1}".format("https" if ssl_context else "http", self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()


def tls_files(directory, names=("127.0.0.1",), days=30):
    """(certificate path, key path) of a new self-signed certificate for ``names`` in ``directory``."""
    key = certificates.new_private_key_pem()
    paths = (os.path.join(str(directory), "cert.pem"), os.path.join(str(directory), "key.pem"))
    for path, text in zip(paths, (certificates.self_signed(list(names), key, days=days), key)):
        with open(path, "w") as handle:
            handle.write(text)
    return paths


def tls_server(certificate, key):
    """The TLS context of a loopback server presenting ``certificate``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    return context


def gateway_routes(root_body="No authorization header presented"):
    """The AI gateway's two documented answers."""
    return {("GET", "/monitoring/healthz"): Answer(200, {"status": "ok"}),
            ("GET", "/"): Answer(401, {"error": root_body})}


def silent_port():
    """(port, socket): a port on 127.0.0.1 that accepts connections and never answers, until the socket is closed."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock.getsockname()[1], sock


def closed_port():
    """A port on 127.0.0.1 nothing listens on."""
    port, sock = silent_port()
    sock.close()
    return port


# -- files ----------------------------------------------------------------------------------------------------

def put_file(root, relative, content):
    """Write ``content`` (bytes) at ``root``/``relative``, folders made; its {sha256, size} as a manifest lists it."""
    path = os.path.join(str(root), relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content)
    return dict(sha256=hashlib.sha256(content).hexdigest(), size=len(content))


# -- commands -----------------------------------------------------------------------------------------------

class Runner:
    """A module's run_command: answers (rc, stdout, stderr) from ``answers`` (a function of argv, or a list
    used in turn) and keeps every (argv, data) it was called with."""

    def __init__(self, *answers):
        self.answers = list(answers) or [(0, "", "")]
        self.calls = []

    def __call__(self, argv, data=None):
        self.calls.append((list(argv), data))
        if callable(self.answers[0]):
            return self.answers[0](argv)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


# -- the lab's gitlab-rails stand-in -------------------------------------------------------------------------

STANDIN_RAILS = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "lab", "gitlab",
                                             "gitlab-rails"))
needs_ruby = pytest.mark.skipif(not shutil.which("ruby"), reason="the gitlab-rails stand-in needs ruby")


class Standin:
    """The lab's gitlab-rails stand-in with its own database (``state``, saved as state.json) in ``home``: real Ruby
    runs the generated script. Called as a module's run_command, it keeps every (argv, data)."""

    def __init__(self, home, version, state=None):
        self.home = str(home)
        self.version_file = os.path.join(self.home, "VERSION")
        with open(self.version_file, "w") as handle:
            handle.write(version + "\n")
        with open(os.path.join(self.home, "state.json"), "w") as handle:
            json.dump(state or {"ai_settings": {}, "application_settings": {}}, handle)
        self.calls = []

    def __call__(self, argv, data=None):
        self.calls.append((list(argv), data))
        done = subprocess.run(argv, input=data, capture_output=True, text=True, check=False,
                              env=dict(os.environ, GITLAB_STANDIN_HOME=self.home))
        return done.returncode, done.stdout, done.stderr

    @property
    def state(self):
        with open(os.path.join(self.home, "state.json")) as handle:
            return json.load(handle)


# -- Docker -------------------------------------------------------------------------------------------------

def _digest(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class FakeContainer(Container):
    """The SDK's Container model (its name, id, status and reload() as they are) whose actions change the fake
    engine instead of calling the Docker API; as with the real one, ``attrs`` is a snapshot until reload()."""

    def _engine(self):
        return self.client.containers.by_id[self.id]

    def _now(self):
        """The name the engine has for this container now (``self.name`` is the snapshot's, as in the SDK)."""
        return self._engine()["Name"][1:]

    def _state(self, running, status):
        self.client.fault({"running": "start", "exited": "stop"}[status], self._now())
        self._engine()["State"].update(Running=running, Status=status)
        self.client.calls.append((status, self._now()))

    def start(self, **kwargs):
        self._state(True, "running")

    def stop(self, **kwargs):
        self._state(False, "exited")

    def restart(self, **kwargs):
        self._state(True, "running")
        self.client.calls[-1] = ("restarted", self._now())

    def remove(self, **kwargs):
        name = self._now()
        self.client.fault("remove", name)
        self.client.containers.by_id.pop(self.id)
        self.client.calls.append(("removed", name))

    def rename(self, name):
        self.client.fault("rename", self._now())
        self.client.calls.append(("renamed", self._now(), name))
        self._engine()["Name"] = "/" + name

    def exec_run(self, cmd, **kwargs):
        self.client.calls.append(("exec", self.name, cmd))
        exit_code, output = self.client.exec_answer(cmd)
        return ExecResult(exit_code, output.encode() if isinstance(output, str) else output)

    def logs(self, **kwargs):
        return self.client.container_logs.encode()


class FakeContainers:
    """client.containers: get/list/create/run with the attrs layout ``docker inspect`` gives."""

    def __init__(self, client):
        self.client = client
        self.by_id = {}
        self.ids = itertools.count(1)

    def get(self, name_or_id):
        for attrs in self.by_id.values():
            if name_or_id in (attrs["Id"], attrs["Name"][1:]):
                return FakeContainer(attrs=copy.deepcopy(attrs), client=self.client, collection=self)
        raise NotFound("No such container: {0}".format(name_or_id))

    def list(self, all=False, filters=None):  # pylint: disable=redefined-builtin
        found = [self.get(container_id) for container_id in self.by_id]
        return [container for container in found if all or container.status == "running"]

    def create(self, image, command=None, **kwargs):
        """As ContainerCollection.create: the SDK turns the keyword arguments into the API's config (a TypeError
        for one it does not know), the engine fills in what it adds itself."""
        local = self.client.images.get(image)
        self.client.fault("create", kwargs.get("name"))
        kwargs.update(image=image, command=command, version=DOCKER_API_VERSION)
        create_kwargs = _create_container_args(kwargs)
        host_config = dict(create_kwargs.pop("host_config"))
        name = create_kwargs.pop("name", None) or "container{0}".format(len(self.by_id))
        create_kwargs.pop("platform", None)
        config = dict(ContainerConfig(DOCKER_API_VERSION, **create_kwargs))
        config["Env"] = list(local.attrs["Config"]["Env"]) + (config["Env"] or [])
        config["Cmd"] = config["Cmd"] or ["/bin/run"]
        host_config.setdefault("NetworkMode", "bridge")
        host_config.setdefault("RestartPolicy", {"Name": "no"})
        container_id = _digest("container{0}".format(next(self.ids)))[7:]
        networks = {host_config["NetworkMode"]: {"IPAddress": "172.18.0.{0}".format(len(self.by_id) + 2)}}
        attrs = {"Id": container_id, "Name": "/" + name, "Image": local.id, "Config": config,
                 "HostConfig": host_config, "State": {"Status": "created", "Running": False}, "RestartCount": 0,
                 "NetworkSettings": {"Networks": networks}}
        if any(other["Name"] == attrs["Name"] for other in self.by_id.values()):
            raise APIError('Conflict. The container name "/{0}" is already in use'.format(name))
        self.by_id[container_id] = attrs
        self.client.calls.append(("created", name))
        return self.get(container_id)

    def run(self, image, command=None, **kwargs):
        """As ContainerCollection.run without detach: the same argument check as create, pulls a missing image,
        raises ContainerError for a non-zero exit with the command's standard error."""
        create_options = {key: value for key, value in kwargs.items()
                          if key not in ("remove", "stdout", "stderr", "stream", "detach")}
        _create_container_args(dict(create_options, image=image, command=command, version=DOCKER_API_VERSION))
        try:
            self.client.images.get(image)
        except ImageNotFound:
            self.client.images.pull(image)
        self.client.calls.append(("run", image, command, kwargs))
        exit_code, output = self.client.run_answer(command)
        if exit_code != 0:
            raise ContainerError(None, exit_code, command, image, output.encode())
        return output.encode()


class FakeImages:
    """client.images: get raises ImageNotFound for an image not on the host; pull takes it from ``registry``."""

    def __init__(self, client, local=(), registry=()):
        self.client = client
        self.local = {}
        self.registry = set(registry)
        for reference in local:
            self.add(reference)

    def add(self, reference):
        self.local[reference] = Image(attrs={"Id": _digest(reference), "RepoTags": [reference], "Architecture": "amd64",
                                             "Config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]}})
        return self.local[reference]

    def get(self, name):
        """By reference or by id, as ``docker image inspect``."""
        for reference, image in self.local.items():
            if name in (reference, image.id):
                return image
        raise ImageNotFound("No such image: {0}".format(name))

    def pull(self, repository, tag=None, platform=None, auth_config=None):
        reference = repository if tag is None else repository + ("@" if tag.startswith("sha256:") else ":") + tag
        self.client.calls.append(("pulled", reference, platform))
        self.client.pull_auth.append(auth_config)
        if reference not in self.registry:
            raise APIError("pull access denied for {0}, repository does not exist".format(repository))
        return self.add(reference)


class FakeNetworks:
    def __init__(self, client):
        self.client = client
        self.names = {"bridge", "host", "none"}

    def list(self, names=None):
        return [name for name in names or self.names if name in self.names]

    def create(self, name, driver=None):
        self.client.calls.append(("network", name, driver))
        self.names.add(name)


socket_module = socket  # exec_start's keyword is named socket, as in the SDK


class FakeExecAPI:
    """client.api's exec calls as the engine answers them (``docker exec -i``): exec_start(socket=True) gives the
    hijacked connection as the SDK's UNIX transport does (a socket.SocketIO), carrying the process's standard input
    one way and its output in the engine's 8-byte framed stream the other; ``exec_inspect`` has the exit code and
    the command line, as the engine shows it. Each exec is recorded in ``calls`` as ("exec", container name,
    command line, bytes read on stdin)."""

    def __init__(self, client):
        self.client = client
        self.execs = {}

    def exec_create(self, container, cmd, stdin=False, stdout=True, stderr=True, **kwargs):
        exec_id = "exec{0}".format(len(self.execs) + 1)
        self.execs[exec_id] = {"name": self.client.containers.get(container).name, "cmd": cmd, "stdin": stdin}
        return {"Id": exec_id}

    def exec_start(self, exec_id, socket=False, **kwargs):  # pylint: disable=redefined-outer-name
        record = self.execs[exec_id]
        ours, engine = socket_module.socketpair()
        exit_code, output = self.client.exec_answer(record["cmd"])
        data = output.encode() if isinstance(output, str) else output
        engine.sendall(struct.pack(">BxxxL", 1, len(data)) + data)
        engine.shutdown(socket_module.SHUT_WR)
        record.update(engine=engine, exit_code=exit_code)
        return socket_module.SocketIO(ours, "rwb")

    def exec_inspect(self, exec_id):
        record = self.execs[exec_id]
        if "input" not in record:
            received = b""
            record["engine"].settimeout(5)
            while True:
                chunk = record["engine"].recv(65536)
                if not chunk:
                    break
                received += chunk
            record["engine"].close()
            record["input"] = received
            self.client.calls.append(("exec", record["name"], record["cmd"], received))
        return {"ID": exec_id, "ExitCode": record["exit_code"], "Running": False,
                "ProcessConfig": {"entrypoint": record["cmd"][0], "arguments": record["cmd"][1:]}}


class FakeDocker:
    """A docker.DockerClient stand-in. ``calls`` records every change (created, started, pulled ...) in order."""

    def __init__(self, local=(), registry=(), architecture="x86_64"):
        self.calls = []
        self.pull_auth = []  # the auth_config of each pull, in order
        self.architecture = architecture
        self.containers = FakeContainers(self)
        self.images = FakeImages(self, local, registry)
        self.networks = FakeNetworks(self)
        self.api = FakeExecAPI(self)
        self.exec_answers = {}
        self.faults = {}
        self.run_answers = []
        self.container_logs = ""

    def ping(self):
        return True

    def info(self):
        return {"ServerVersion": "27.3.1", "Architecture": self.architecture, "DockerRootDir": "/var/lib/docker"}

    def fault(self, action, name):
        """Raise the error planted in ``faults`` for ``(action, name)`` or ``action`` (create, start, stop,
        rename, remove), once: the engine refuses that one call."""
        for key in ((action, name), action):
            if key in self.faults:
                error = self.faults.pop(key)
                self.calls.append(("refused", action, name))
                raise error

    def exec_answer(self, cmd):
        """The answer of the first ``exec_answers`` entry whose key is part of the command line; (0, "") else."""
        line = " ".join(cmd) if isinstance(cmd, list) else cmd
        for fragment, answer in self.exec_answers.items():
            if fragment in line:
                return answer
        return 0, ""

    def run_answer(self, command):
        return self.run_answers.pop(0) if self.run_answers else (0, "")

    def changes(self):
        """The calls that changed something."""
        return [call for call in self.calls if call[0] != "exec" and call[0] != "run"]
