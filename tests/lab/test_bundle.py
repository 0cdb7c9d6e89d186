"""The air-gap bundle built for real: bundle.yml against the lab registry with the real skopeo and pip, the images
checked against the Docker engine, reruns that fetch nothing, versions added and removed, a damaged archive and a
stray file caught by bundle_verify, a registry that wants a password, and a build killed in the middle of a fetch.

The images come from a registry of the tests' own (Debian's docker-registry, filled from the lab registry with
skopeo): other sessions push to the lab registry, and a tag moved there in the middle of a test would be a real
change the bundle must fetch again. skopeo is reached through a small wrapper on PATH that writes each call's
arguments to a log and then runs the real skopeo: the log is how the tests count fetches and prove no password
reaches a command line."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import docker
import pytest
import requests

from .conftest import REGISTRY, REPO, VENV_BIN, free_port, run_module, run_playbook

sys.path.insert(0, os.path.join(REPO, "lab"))
from labkit import finish_playbook, start_playbook, write_inventory  # noqa: E402  pylint: disable=wrong-import-position
from token_registry import TokenRegistry  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls import certificates  # noqa: E402

GATEWAY = "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
# The archives load under a name of their own, so loading one never moves a tag other lab tests use.
LOAD_REGISTRY = "bundle-test.duo-lab.invalid:5000"
PROXY = LOAD_REGISTRY + "/library/nginx:1.22-lab"
SKOPEO_WRAPPER = """#!/bin/sh
printf '%s\\n' "$*" >> "$DUO_SKOPEO_LOG"
if [ "$1" = copy ] && [ -n "$DUO_SKOPEO_PAUSE" ]; then
  /usr/bin/skopeo "$@"; touch "$DUO_SKOPEO_PAUSE"; sleep 300; exit 1
fi
exec /usr/bin/skopeo "$@"
"""


# Wheel sets that keep a build short, once the defaults have been built for real; none where wheels are not the point.
SMALL = dict(bundle_control_wheels=False, bundle_targets_requirements=["jmespath"])
NO_WHEELS = dict(bundle_control_wheels=False, bundle_targets_wheels=False)
# What the tests' registry holds: the newest release of each minor they ask for, and NGINX.
TAGS = ["self-hosted-v18.1.1-ee", "self-hosted-v18.2.10-ee", "self-hosted-v18.3.0-ee", "self-hosted-v19.2.0-ee"]


@contextlib.contextmanager
def registry_serving(workdir, names, tls=None):
    """Debian's docker-registry on loopback ('127.0.0.1:<port>'), holding copies of the lab registry's ``names``;
    over HTTPS with ``tls`` (certificate, key)."""
    port = free_port()
    config = os.path.join(str(workdir), "registry.yml")
    with open(config, "w") as handle:
        handle.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {0}\n"
                     "http:\n  addr: 127.0.0.1:{1}\n".format(os.path.join(str(workdir), "data"), port))
        if tls:
            handle.write("  tls:\n    certificate: {0}\n    key: {1}\n".format(*tls))
    with open(os.path.join(str(workdir), "registry.log"), "wb") as log:
        registry = subprocess.Popen(["docker-registry", "serve", config], stdout=log, stderr=subprocess.STDOUT)
    host = "127.0.0.1:{0}".format(port)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get("{0}://{1}/v2/".format("https" if tls else "http", host), timeout=2,
                                verify=tls[0] if tls else True).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        for name in names:
            subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                            "docker://{0}/{1}".format(REGISTRY, name), "docker://{0}/{1}".format(host, name)],
                           check=True, capture_output=True, timeout=120)
        yield host
    finally:
        registry.terminate()
        registry.wait(timeout=10)


@pytest.fixture(scope="module")
def source(lab, tmp_path_factory):
    """A registry of this module's own, holding the gateway releases of TAGS and NGINX."""
    names = ["{0}:{1}".format(GATEWAY, tag) for tag in TAGS] + ["library/nginx:1.22-lab"]
    with registry_serving(tmp_path_factory.mktemp("bundle-registry"), names) as host:
        yield host


class Skopeo:
    """The wrapper: ``env`` puts it first on PATH; ``calls()`` are the argument lines since the last ``clear()``."""

    def __init__(self, folder):
        os.makedirs(folder)
        wrapper = os.path.join(folder, "skopeo")
        with open(wrapper, "w") as handle:
            handle.write(SKOPEO_WRAPPER)
        os.chmod(wrapper, 0o755)
        self.log = os.path.join(folder, "calls.log")
        self.env = {"PATH": folder + os.pathsep + os.environ["PATH"], "DUO_SKOPEO_LOG": self.log}

    def calls(self, verb=None):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as handle:
            lines = handle.read().splitlines()
        return [line for line in lines if verb is None or line.split(" ", 1)[0] == verb]

    def clear(self):
        if os.path.exists(self.log):
            os.remove(self.log)


@pytest.fixture
def skopeo(tmp_path):
    return Skopeo(str(tmp_path / "skopeo-wrapper"))


@pytest.fixture
def inventory(tmp_path):
    """No hosts: the versions and images are given (implicit localhost builds)."""
    path = tmp_path / "inventory.yml"
    path.write_text("all:\n  hosts: {}\n")
    return str(path)


def bundle_vars(bundle, versions, registry=REGISTRY, **extra):
    variables = {"bundle_dir": str(bundle), "bundle_gitlab_versions": versions,
                 "bundle_registry": "http://" + registry, "bundle_image_registry": LOAD_REGISTRY,
                 "bundle_proxy_image": PROXY,
                 "bundle_proxy_source": "http://{0}/library/nginx:1.22-lab".format(registry)}
    variables.update(extra)
    return variables


def vars_file(bundle, versions, registry=REGISTRY, **extra):
    """The variables as a file (-e @file), as a user passes a vault: nothing of them on ansible-playbook's argv."""
    path = os.path.join(os.path.dirname(str(bundle)), "bundle-vars.json")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump(bundle_vars(bundle, versions, registry, **extra), handle)
    return "@" + path


def build(inventory, skopeo, bundle, versions, *args, env=None, registry=REGISTRY, **extra):
    skopeo.clear()
    return run_playbook(inventory, "bundle.yml", "-e", vars_file(bundle, versions, registry, **extra), *args,
                        env=dict(skopeo.env, **(env or {})))


def manifest(bundle):
    with open(os.path.join(str(bundle), "manifest.json")) as handle:
        return json.load(handle)


def mtimes(bundle, folder):
    root = os.path.join(str(bundle), folder)
    return {name: os.stat(os.path.join(root, name)).st_mtime_ns for name in sorted(os.listdir(root))}


def sha256(path):
    return subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True).stdout.split()[0]


def engine_image_id(client, image):
    """The ID the Docker engine gives ``image`` pulled from the lab registry by its digest (no tag moves); what the
    test pulled is removed again."""
    pinned = "{0}@{1}".format(image["source"].rsplit(":", 1)[0], image["digest"])
    known = {item.id for item in client.images.list()}
    pulled = client.images.pull(pinned)
    if pulled.id not in known:
        client.images.remove(pulled.id, force=True)
    return pulled.id


def kill_session(session):
    """SIGKILL to every process of the session the test started (ansible-playbook, its workers, the module, skopeo
    and the wrapper's sleep), as a lost machine would stop them."""
    for _attempt in range(3):
        found = []
        for pid in os.listdir("/proc"):
            try:
                with open("/proc/{0}/stat".format(pid)) as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if pid.isdigit() and int(fields[3]) == session:
                found.append(int(pid))
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not found:
            return
        time.sleep(0.2)


def test_build_rerun_add_remove_damage_and_repair(source, inventory, skopeo, tmp_path):
    bundle = tmp_path / "bundle"
    first = build(inventory, skopeo, bundle, ["18.2.1", "18.2.9", "18.3.0"], registry=source)
    assert first.rc == 0, first.output
    data = manifest(bundle)
    assert data["gitlab_versions"] == {"18.2.1": "self-hosted-v18.2.10-ee", "18.2.9": "self-hosted-v18.2.10-ee",
                                       "18.3.0": "self-hosted-v18.3.0-ee"}, "one image per minor, the newest patch"
    images = {image["tag"]: image for image in data["images"]}
    assert sorted(images) == ["1.22-lab", "self-hosted-v18.2.10-ee", "self-hosted-v18.3.0-ee"]
    assert images["self-hosted-v18.2.10-ee"]["gitlab_versions"] == ["18.2.1", "18.2.9"]
    assert images["1.22-lab"]["role"] == "proxy" and images["1.22-lab"]["reference"] == PROXY
    assert len(skopeo.calls("copy")) == 3 and len(skopeo.calls("inspect")) == 3

    client = docker.from_env()
    for image in data["images"]:
        path = os.path.join(str(bundle), image["archive"])
        assert sha256(path) == image["sha256"] == data["files"][image["archive"]]["sha256"]
        assert os.path.getsize(path) == image["size"]
        assert engine_image_id(client, image) == image["image_id"], image["reference"]
    # docker load reads an archive as it is, under the name the targets run.
    gateway = images["self-hosted-v18.3.0-ee"]
    loaded = subprocess.run(["docker", "load", "-i", os.path.join(str(bundle), gateway["archive"])],
                            capture_output=True, text=True, check=False)
    assert loaded.returncode == 0 and gateway["reference"] in loaded.stdout, loaded.stdout + loaded.stderr
    try:
        assert client.images.get(gateway["reference"]).id == gateway["image_id"]
    finally:
        client.images.remove(gateway["reference"])

    # Every file is listed; the collection and both wheel sets are there, pinned as the collection's requirements.
    on_disk = sorted(os.path.relpath(os.path.join(folder, name), str(bundle))
                     for folder, _dirs, names in os.walk(str(bundle)) for name in names)
    assert sorted(data["files"]) == [name for name in on_disk if name != "manifest.json"]
    assert data["collection"]["name"] == "gitlab_duo.self_hosted"
    assert data["collection"]["file"] == "collection/gitlab_duo-self_hosted-{version}.tar.gz".format(
        **data["collection"])
    assert (bundle / "requirements" / "control.txt").read_text().splitlines()[0] == "ansible-core==2.19.14"
    assert "docker==7.2.0" in (bundle / "requirements" / "targets.txt").read_text().splitlines()
    assert data["wheels"]["targets"]["platforms"] == ["manylinux_2_36_x86_64"]
    for wheel_set in ("control", "targets"):
        # The set is complete: pip resolves it from the folder alone, with no index and no configuration.
        offline = subprocess.run([os.path.join(VENV_BIN, "python"), "-m", "pip", "install", "--isolated", "--dry-run",
                                  "--ignore-installed", "--no-index", "--find-links",
                                  str(bundle / "wheels" / wheel_set),
                                  "-r", str(bundle / "requirements" / (wheel_set + ".txt"))],
                                 capture_output=True, text=True, check=False)
        assert offline.returncode == 0, offline.stdout + offline.stderr

    # A rerun asks the registry one question per image, fetches and writes nothing: changed=0.
    archives, wheels, written = mtimes(bundle, "images"), mtimes(bundle, "wheels/control"), manifest(bundle)
    manifest_mtime = os.stat(str(bundle / "manifest.json")).st_mtime_ns
    again = build(inventory, skopeo, bundle, ["18.2.1", "18.2.9", "18.3.0"], registry=source)
    assert again.rc == 0 and again.recap()["localhost"]["changed"] == 0, again.output
    assert len(skopeo.calls("inspect")) == 3 and skopeo.calls("copy") == []
    assert mtimes(bundle, "images") == archives and mtimes(bundle, "wheels/control") == wheels
    assert os.stat(str(bundle / "manifest.json")).st_mtime_ns == manifest_mtime and manifest(bundle) == written

    # Check mode says a new version would be fetched, and fetches and writes nothing.
    checked = build(inventory, skopeo, bundle, ["18.2.1", "18.3.0", "18.1.0"], "--check", registry=source)
    assert checked.rc == 0 and checked.recap()["localhost"]["changed"] > 0, checked.output
    assert skopeo.calls("copy") == [] and mtimes(bundle, "images") == archives and manifest(bundle) == written

    # A version added fetches only its image. From here on the wheel sets are small (the defaults were built and
    # rebuilt above): the control node's set is dropped, folder, pins and manifest entry.
    added = build(inventory, skopeo, bundle, ["18.2.1", "18.2.9", "18.3.0", "18.1.0"], registry=source, **SMALL)
    assert added.rc == 0, added.output
    assert "control" not in manifest(bundle)["wheels"] and not (bundle / "wheels" / "control").exists()
    assert not (bundle / "requirements" / "control.txt").exists()
    assert manifest(bundle)["wheels"]["targets"]["packages"] == ["jmespath-1.1.0-py3-none-any.whl"]
    assert [call.split()[-2] for call in skopeo.calls("copy")] == [
        "docker://{0}/{1}@{2}".format(source, GATEWAY, manifest(bundle)["images"][0]["digest"])], skopeo.calls()
    assert manifest(bundle)["gitlab_versions"]["18.1.0"] == "self-hosted-v18.1.1-ee"
    after = mtimes(bundle, "images")
    assert {name: after[name] for name in archives} == archives and len(after) == 4

    # A version removed drops its image from the manifest and its archive from the bundle.
    removed = build(inventory, skopeo, bundle, ["18.2.1", "18.2.9", "18.1.0"], registry=source, **SMALL)
    assert removed.rc == 0 and skopeo.calls("copy") == [], removed.output
    assert "self-hosted-v18.3.0-ee" not in {image["tag"] for image in manifest(bundle)["images"]}
    assert "18.3.0" not in manifest(bundle)["gitlab_versions"]
    assert not (bundle / gateway["archive"]).exists() and gateway["archive"] not in manifest(bundle)["files"]

    # --tags verify only verifies; it passes on the bundle as built.
    verified = build(inventory, skopeo, bundle, ["18.2.1"], "--tags", "verify", registry=source, **SMALL)
    assert verified.rc == 0 and "matches its manifest" in verified.output, verified.output
    assert skopeo.calls() == [] and "Choose the gateway release" not in verified.output

    # One byte of an archive changed and a stray file: verify names both and says what to do.
    damaged = manifest(bundle)["images"][0]["archive"]
    with open(os.path.join(str(bundle), damaged), "r+b") as handle:
        handle.seek(os.path.getsize(handle.name) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    (bundle / "notes.txt").write_text("not carried in\n")
    failed = build(inventory, skopeo, bundle, ["18.2.1"], "--tags", "verify", registry=source, **SMALL)
    assert failed.rc != 0 and damaged in failed.output and "notes.txt: not in the manifest" in failed.output
    rc, result, output = run_module("bundle_verify", {"bundle_dir": str(bundle)})
    assert rc != 0 and not result["ok"], output
    problems = {problem["path"]: problem for problem in result["problems"]}
    assert sorted(problems) == [damaged, "notes.txt"]
    assert problems[damaged]["problem"].startswith("sha256 ") and "build again" in problems[damaged]["fix"]
    assert problems["notes.txt"]["fix"].startswith("remove it")

    # A rebuild fetches the damaged image again (the registry's digest is the same, the archive is not) and
    # leaves the stray file to its owner, with a warning.
    (bundle / "notes.txt").unlink()
    repaired = build(inventory, skopeo, bundle, ["18.2.1", "18.2.9", "18.1.0"], registry=source, **SMALL)
    assert repaired.rc == 0, repaired.output
    assert [os.path.basename(damaged) in call for call in skopeo.calls("copy")] == [True]
    assert run_module("bundle_verify", {"bundle_dir": str(bundle)})[0] == 0


def test_build_killed_during_a_fetch_is_finished_by_the_next_run(source, inventory, skopeo, tmp_path):
    bundle = tmp_path / "bundle"
    assert build(inventory, skopeo, bundle, ["18.2.1"], registry=source, **NO_WHEELS).rc == 0
    before = (bundle / "manifest.json").read_bytes()

    paused = str(tmp_path / "in-copy")
    env = dict(skopeo.env, DUO_SKOPEO_PAUSE=paused)
    skopeo.clear()
    process = start_playbook(inventory, "bundle.yml", "-e",
                             vars_file(bundle, ["18.2.1", "19.2.0"], registry=source, **NO_WHEELS), env=env)
    deadline = time.monotonic() + 120
    while not os.path.exists(paused) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.path.exists(paused), finish_playbook(process).output
    # skopeo has written the new image's docker-archive; it is not compressed and renamed yet.
    kill_session(process.pid)
    process.communicate(timeout=30)

    new_archive = bundle / "images" / "model-gateway_self-hosted-v19.2.0-ee.tar.gz"
    assert (bundle / "manifest.json").read_bytes() == before, "the previous manifest stays"
    assert not new_archive.exists(), "no half archive under the final name"
    leftovers = sorted(os.listdir(str(bundle / "images")))
    assert "model-gateway_self-hosted-v19.2.0-ee.tar.gz.tar.partial" in leftovers, leftovers
    rc, result, _output = run_module("bundle_verify", {"bundle_dir": str(bundle)})
    assert rc != 0 and [problem["problem"] for problem in result["problems"]] == ["not in the manifest"]

    finished = build(inventory, skopeo, bundle, ["18.2.1", "19.2.0"], registry=source, **NO_WHEELS)
    assert finished.rc == 0, finished.output
    assert len(skopeo.calls("copy")) == 1 and new_archive.exists()
    assert sorted(os.listdir(str(bundle / "images"))) == ["model-gateway_self-hosted-v18.2.10-ee.tar.gz",
                                                          "model-gateway_self-hosted-v19.2.0-ee.tar.gz",
                                                          "nginx_1.22-lab.tar.gz"], "the leftovers are gone"
    assert manifest(bundle)["gitlab_versions"] == {"18.2.1": "self-hosted-v18.2.10-ee",
                                                   "19.2.0": "self-hosted-v19.2.0-ee"}
    assert run_module("bundle_verify", {"bundle_dir": str(bundle)})[0] == 0


def test_versions_registry_and_nginx_from_the_inventory(source, skopeo, tmp_path):
    """No versions given: each gitlab host's declared or detected version, the gateway hosts' registry, and the NGINX
    image of a proxy in a container. An instance whose version cannot be learned stops the build, named."""
    version_file = tmp_path / "VERSION"
    version_file.write_text("18.2.1-ee\n")
    instances = {"gitlab-a": {"gitlab_url": "http://gitlab-a.duo-lab.test", "gitlab_version_file": str(version_file)},
                 "gitlab-b": {"gitlab_url": "http://gitlab-b.duo-lab.test", "gitlab_version": "18.3.0-ee"}}
    nginx = source + "/library/nginx:1.22-lab"
    gateways = {"gw-a": {"ai_gateway_gitlab_instance": "gitlab-a", "ai_gateway_registry": "http://" + source,
                         "tls_proxy_enabled": True, "tls_proxy_domains": ["gw-a.duo-lab.test"],
                         "tls_proxy_image": nginx},
                "gw-b": {"ai_gateway_gitlab_instance": "gitlab-b", "ai_gateway_registry": "http://" + source}}
    bundle = tmp_path / "bundle"
    variables = str(tmp_path / "vars.json")
    with open(variables, "w") as handle:
        json.dump(dict(NO_WHEELS, bundle_dir=str(bundle)), handle)

    broken = dict(instances, **{"gitlab-c": {"gitlab_url": "http://gitlab-c.duo-lab.test",
                                             "gitlab_version_file": str(tmp_path / "no-such-VERSION")}})
    inventory = write_inventory(tmp_path / "broken.yml", broken, gateways)
    failed = run_playbook(inventory, "bundle.yml", "-e", "@" + variables, env=skopeo.env)
    assert failed.rc != 0 and "The GitLab version of gitlab-c is not known" in failed.output, failed.output
    assert not bundle.exists(), "nothing is built for a partial set of versions"

    inventory = write_inventory(tmp_path / "inventory.yml", instances, gateways)
    built = run_playbook(inventory, "bundle.yml", "-e", "@" + variables, env=skopeo.env)
    assert built.rc == 0, built.output
    data = manifest(bundle)
    assert data["gitlab_versions"] == {"18.2.1": "self-hosted-v18.2.10-ee", "18.3.0": "self-hosted-v18.3.0-ee"}
    references = sorted(image["reference"] for image in data["images"])
    assert references == sorted(["{0}/{1}:{2}".format(source, GATEWAY, tag)
                                 for tag in ("self-hosted-v18.2.10-ee", "self-hosted-v18.3.0-ee")] + [nginx])
    assert all(call.split()[-2].startswith("docker://" + source) for call in skopeo.calls("copy"))


def test_a_registry_that_wants_a_password(lab, inventory, skopeo, tmp_path):
    password = "s3cret-" + os.urandom(6).hex()
    seen_in_process_list = []
    stop = threading.Event()

    def watch():
        """Every command line on the machine while the build runs: the password must be in none of them."""
        while not stop.is_set():
            for pid in os.listdir("/proc"):
                try:
                    with open("/proc/{0}/cmdline".format(pid), "rb") as handle:
                        if password.encode() in handle.read():
                            seen_in_process_list.append(pid)
                except OSError:
                    continue
            time.sleep(0.01)

    with TokenRegistry(str(tmp_path), users={"builder": password}, pull_through=True) as registry:
        bundle = tmp_path / "bundle"
        common = dict(NO_WHEELS, bundle_registry=registry.url, bundle_registry_username="builder",
                      bundle_proxy_image="")
        refused = build(inventory, skopeo, bundle, ["18.2.1"], **dict(common, bundle_registry_password="wrong"))
        assert refused.rc != 0 and "token service" in refused.output and "401" in refused.output, refused.output
        assert "wrong" not in "\n".join(skopeo.calls())

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            built = build(inventory, skopeo, bundle, ["18.2.1"], "-vvv",
                          **dict(common, bundle_registry_password=password))
        finally:
            stop.set()
            watcher.join()
        assert built.rc == 0, built.output
        assert any(request["user"] == ["builder"] for request in registry.token_requests), \
            "the token service was asked with the credentials"
        assert password not in built.output
        calls = skopeo.calls()
        assert calls and all("--authfile=/dev/fd/" in call or "--src-authfile=/dev/fd/" in call for call in calls)
        assert password not in "\n".join(calls) and seen_in_process_list == []
        image = manifest(bundle)["images"][0]
        assert image["tag"] == "self-hosted-v18.2.10-ee" and image["source"].startswith(registry.url.split("//")[1])


def test_a_registry_with_a_certificate_of_its_own_ca(lab, inventory, skopeo, tmp_path):
    """HTTPS with a certificate this machine does not trust: refused, naming TLS; with bundle_registry_ca_path the
    tag chooser and skopeo (a cert dir made for the run) both trust it."""
    key = certificates.new_private_key_pem()
    (tmp_path / "cert.pem").write_text(certificates.self_signed(["127.0.0.1"], key))
    (tmp_path / "key.pem").write_text(key)
    tls = (str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    with registry_serving(tmp_path, ["{0}:self-hosted-v18.2.10-ee".format(GATEWAY)], tls) as host:
        bundle = tmp_path / "bundle"
        common = dict(NO_WHEELS, bundle_registry=host, bundle_proxy_image="")
        untrusted = build(inventory, skopeo, bundle, ["18.2.1"], **common)
        assert untrusted.rc != 0 and "TLS error" in untrusted.output and "ca_path" in untrusted.output
        image = "{0}/{1}:self-hosted-v18.2.10-ee".format(host, GATEWAY)
        rc, result, output = run_module("bundle_image", {"bundle_dir": str(bundle), "source": image})
        assert rc != 0 and "certificate" in result["msg"] and "TLS settings" in result["msg"], output
        trusted = build(inventory, skopeo, bundle, ["18.2.1"], bundle_registry_ca_path=tls[0], **common)
        assert trusted.rc == 0, trusted.output
        assert [call.split()[0] for call in skopeo.calls()] == ["inspect", "copy"]
        assert all("tls-verify=true" in call and "cert-dir=/tmp/registry-ca-" in call for call in skopeo.calls())
        assert manifest(bundle)["images"][0]["source"] == "{0}/{1}:self-hosted-v18.2.10-ee".format(host, GATEWAY)


def test_bundle_from_an_installed_collection(lab, tmp_path):
    """Where `ansible-playbook gitlab_duo.self_hosted.bundle` normally runs from: an installed collection, which
    has no galaxy.yml. Its files are packed again; the tarball equals the checkout's build and installs."""
    built = tmp_path / "from-checkout"
    rc, first, output = run_module("bundle_collection", {"bundle_dir": str(built), "collection_path": REPO})
    assert rc == 0 and first["changed"] and first["source"] == "checkout", output
    tarball = os.path.join(str(built), first["collection"]["file"])
    galaxy = os.path.join(VENV_BIN, "ansible-galaxy")
    # Away from this checkout's ansible.cfg, which already finds the collection (galaxy would skip the install).
    alone = dict(os.environ, ANSIBLE_CONFIG=str(tmp_path / "none.cfg"))
    subprocess.run([galaxy, "collection", "install", "--offline", tarball, "-p", str(tmp_path / "installed")],
                   check=True, capture_output=True, cwd=str(tmp_path), env=alone)
    installed = str(tmp_path / "installed" / "ansible_collections" / "gitlab_duo" / "self_hosted")

    rc, again, output = run_module("bundle_collection", {"bundle_dir": str(built), "collection_path": installed})
    assert rc == 0 and again["source"] == "installed" and not again["changed"], output
    rc, repacked, output = run_module("bundle_collection", {"bundle_dir": str(tmp_path / "other"),
                                                            "collection_path": installed})
    assert rc == 0 and repacked["changed"], output
    reinstalled = subprocess.run([galaxy, "collection", "install", "--offline",
                                  os.path.join(str(tmp_path / "other"), repacked["collection"]["file"]),
                                  "-p", str(tmp_path / "reinstalled")], capture_output=True, text=True, check=False,
                                 cwd=str(tmp_path), env=alone)
    assert reinstalled.returncode == 0, reinstalled.stdout + reinstalled.stderr
    assert os.path.isfile(str(tmp_path / "reinstalled" / "ansible_collections" / "gitlab_duo" / "self_hosted" / "roles"
                              / "bundle" / "tasks" / "main.yml"))

    # A file of the installed copy changed since it was installed: refused, naming it.
    with open(os.path.join(installed, "README.md"), "a") as handle:
        handle.write("edited\n")
    rc, result, output = run_module("bundle_collection", {"bundle_dir": str(tmp_path / "third"),
                                                          "collection_path": installed})
    assert rc != 0 and "README.md" in result["msg"] and "FILES.json" in result["msg"], output
