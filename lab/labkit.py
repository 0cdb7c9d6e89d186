"""Helpers to drive the local lab from Python (tests and benchmarks): GitLab stand-ins, inventories,
ansible-playbook and module runs. The lab itself is started by lab/lab.sh."""

import contextlib
import io
import json
import os
import hashlib
import re
import signal
import socket
import subprocess
import tarfile
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB_SH = os.path.join(REPO, "lab", "lab.sh")
VENV_BIN = os.path.join(REPO, ".venv", "bin")
REGISTRY = "127.0.0.1:5000"
GATEWAY_REPOSITORY = "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
IMAGE = REGISTRY + "/" + GATEWAY_REPOSITORY
GATEWAY_STANDIN = os.path.join(REPO, "lab", "images", "gateway")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_up():
    subprocess.run([LAB_SH, "up"], check=True, stdout=subprocess.DEVNULL)


def gateway_standin_digest():
    """A short hash of the gateway stand-in's sources (lab/images/gateway), for a tag of a build of them."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(GATEWAY_STANDIN)):
        with open(os.path.join(GATEWAY_STANDIN, name), "rb") as handle:
            digest.update(name.encode() + b"\0" + handle.read())
    return digest.hexdigest()[:12]


def build_gateway_standin(client, tag, version="self-hosted-v18.2.1-ee"):
    """Build the gateway stand-in from lab/images/gateway with the host's busybox and socat, in lab.sh's own build
    context (``lab.sh standin-context``), into ``tag`` on the engine of ``client`` (a docker.DockerClient). Nothing
    is pushed: a test of a change to the stand-in runs its own build and leaves the registry's release tags, which
    others use, alone."""
    with tempfile.TemporaryDirectory() as context:
        subprocess.run([LAB_SH, "standin-context", context], check=True, stdout=subprocess.DEVNULL)
        image, _log = client.images.build(path=context, tag=tag, buildargs={"GATEWAY_VERSION": version}, rm=True)
    return image


class GitLabStandin:
    """One GitLab stand-in: its own database (state.json), VERSION, gitlab-rails/gitlab-rake and API."""

    def __init__(self, lab_dir, name, version):
        self.name = name
        self.port = free_port()
        env = dict(os.environ, DUO_LAB_DIR=lab_dir)
        subprocess.run([LAB_SH, "instance", name, version, str(self.port)], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        self.home = os.path.join(lab_dir, "gitlab", name)
        self.rails = os.path.join(self.home, "bin", "gitlab-rails")
        self.rake = os.path.join(self.home, "bin", "gitlab-rake")
        self.version_file = os.path.join(self.home, "VERSION")
        self.url = "http://gitlab.duo-lab.test:{0}".format(self.port)
        self.api_url = self.url

    @property
    def state(self):
        with open(os.path.join(self.home, "state.json")) as handle:
            return json.load(handle)

    @property
    def admin_token(self):
        return self.state["admin_token"]

    def runner_calls(self):
        path = os.path.join(self.home, "runner-calls.log")
        if not os.path.exists(path):
            return 0
        with open(path) as handle:
            return len(handle.readlines())

    def host_vars(self):
        return {"gitlab_url": self.url, "gitlab_rails_command": [self.rails], "gitlab_rake_command": [self.rake],
                "gitlab_version_file": self.version_file}

    def in_docker(self, container_name, label):
        """Run this stand-in inside a container, as GitLab in Docker runs: host commands for ``docker exec``.

        The container sees the host's /usr and /etc (read-only), this instance's home (read-write) and the
        version file at the Omnibus path only, so whatever reads it must go through ``docker exec``. It uses the
        host network, as the stand-in's API and the lab's names live on loopback.
        """
        _host_root_image()
        subprocess.run(
            ["docker", "run", "-d", "--name", container_name, "--label", "gitlab_duo.lab=true",
             "--label", "gitlab_duo.test=" + label, "--network", "host", "--stop-signal", "SIGKILL",
             "--env", "PATH={0}:/usr/local/bin:/usr/bin:/bin".format(os.path.join(self.home, "bin")),
             "-v", "/usr:/usr:ro", "-v", "/etc:/etc:ro", "-v", "{0}:{0}:ro".format(REPO),
             "-v", "{0}:{0}".format(self.home),
             "-v", "{0}:/opt/gitlab/embedded/service/gitlab-rails/VERSION:ro".format(self.version_file),
             HOST_ROOT_IMAGE, "sleep", "infinity"],
            check=True, stdout=subprocess.DEVNULL)
        prefix = ["docker", "exec", "-i", container_name]
        return {"gitlab_rails_command": prefix + ["gitlab-rails"], "gitlab_rake_command": prefix + ["gitlab-rake"],
                "gitlab_version_file": "/opt/gitlab/embedded/service/gitlab-rails/VERSION"}

    def stop(self):
        with open(os.path.join(self.home, "api.pid")) as handle:
            try:
                os.kill(int(handle.read()), signal.SIGTERM)
            except ProcessLookupError:
                pass


HOST_ROOT_IMAGE = "duo-lab/host-root:1"


def _host_root_image():
    """An image of nothing but Debian's merged-/usr links and mount points; the host's /usr fills it at run time."""
    if subprocess.run(["docker", "image", "inspect", HOST_ROOT_IMAGE], capture_output=True, check=False).returncode == 0:
        return
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for link in ("bin", "lib", "lib64", "sbin"):
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "usr/" + link
            archive.addfile(info)
        for folder in ("usr", "etc", "tmp", "opt", "proc", "sys", "dev", "run", "root"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            archive.addfile(info)
    subprocess.run(["docker", "import", "-", HOST_ROOT_IMAGE], input=buffer.getvalue(), check=True,
                   stdout=subprocess.DEVNULL)


def gateway_host_vars(gitlab, container_name, port, label, keys_dir, **extra):
    """Variables of one lab gateway host serving ``gitlab``: unique container name and port on loopback."""
    host = {
        "ai_gateway_gitlab_instance": gitlab.name,
        "ai_gateway_hostname": "gateway.duo-lab.test",
        "ai_gateway_container_name": container_name,
        "ai_gateway_published_port": port,
        "ai_gateway_bind_address": "127.0.0.1",
        "ai_gateway_registry": "http://" + REGISTRY,
        "ai_gateway_jwt_keys_dir": keys_dir,
        "ai_gateway_health_timeout": 20,
        "ai_gateway_labels": {"gitlab_duo.test": label},
    }
    host.update(extra)
    return host


def write_inventory(path, gitlab_hosts, gateway_hosts, **common):
    """gitlab_hosts: {name: vars}; gateway_hosts: {name: vars}; common: vars for all hosts."""
    variables = {"ansible_connection": "local", "ansible_python_interpreter": os.path.join(VENV_BIN, "python"),
                 # Each test's own settings snapshots (instances of other tests may share a name).
                 "gitlab_settings_snapshot_dir": os.path.join(os.path.dirname(os.path.abspath(str(path))), "settings")}
    variables.update(common)
    inventory = {"all": {"vars": variables, "children": {"gitlab": {"hosts": gitlab_hosts},
                                                         "ai_gateway": {"hosts": gateway_hosts}}}}
    with open(str(path), "w") as handle:
        yaml.safe_dump(inventory, handle)
    return str(path)


class PlayResult:
    def __init__(self, completed):
        self.rc = completed.returncode
        self.output = completed.stdout + (completed.stderr or "")

    def recap(self):
        """{host: {'ok': n, 'changed': n, 'failed': n, ...}} from PLAY RECAP."""
        totals = {}
        for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", self.output, re.M):
            totals[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
        return totals

    def changed(self):
        return sum(host["changed"] for host in self.recap().values())


def ansible_env(extra=None):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV_BIN, "python"))
    env.update(extra or {})
    return env


def run_playbook(inventory, playbook="install.yml", *args, env=None):
    command = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory,
               os.path.join(REPO, "playbooks", playbook)] + list(args)
    return PlayResult(subprocess.run(command, capture_output=True, text=True, env=ansible_env(env), cwd=REPO,
                                     check=False, timeout=900))


def start_playbook(inventory, playbook="install.yml", *args, env=None):
    """A playbook run in the background, in its own process group (a test may kill it mid-way); finish it with
    finish_playbook()."""
    command = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory,
               os.path.join(REPO, "playbooks", playbook)] + list(args)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ansible_env(env), cwd=REPO, start_new_session=True)


def finish_playbook(process, timeout=900):
    """Wait for a start_playbook() run; its PlayResult."""
    stdout = process.communicate(timeout=timeout)[0]
    return PlayResult(subprocess.CompletedProcess(process.args, process.returncode, stdout, ""))


def run_module(module, args, *extra, env=None):
    """One module through `ansible localhost -m`; returns (rc, parsed result or None, raw output)."""
    command = [os.path.join(VENV_BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m",
               "gitlab_duo.self_hosted." + module, "-a", json.dumps(args)] + list(extra)
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False,
                               env=ansible_env(dict(env or {}, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal")))
    output = completed.stdout + completed.stderr
    match = re.search(r"=> (\{.*\})\s*$", completed.stdout, re.S)
    return completed.returncode, json.loads(match.group(1)) if match else None, output


@contextlib.contextmanager
def fleet(workdir, prefix, size, label, gateway_extra=None, version="18.2.1-ee"):
    """``size`` GitLab stand-ins with one gateway host each, for benchmarks: yields (instances, gateway hosts).
    ``gateway_extra(index)`` adds variables to a gateway host. Stand-ins and labelled containers go afterwards."""
    instances = [GitLabStandin(os.path.join(workdir, "lab"), "{0}-{1:02d}".format(prefix, index), version)
                 for index in range(size)]
    try:
        gateways = {}
        for index, gitlab in enumerate(instances):
            name = "duo-{0}-{1:02d}".format(prefix, index)
            extra = gateway_extra(index) if gateway_extra else {}
            gateways["gw-" + name] = gateway_host_vars(gitlab, name, extra.pop("port", free_port()), label,
                                                       os.path.join(workdir, "keys", name), **extra)
        yield instances, gateways
    finally:
        for gitlab in instances:
            gitlab.stop()
        import docker
        for container in docker.from_env().containers.list(all=True, filters={"label": "gitlab_duo.test=" + label}):
            container.remove(force=True)
