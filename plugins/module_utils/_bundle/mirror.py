# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An air-gap bundle's images pushed into an organisation's own registry (private to gitlab_duo.self_hosted): the
bundle_mirror service.

Each image goes to ``<registry>/[<prefix>/]<repository>:<tag>`` with ``skopeo copy docker-archive:...
docker://...`` (skopeo 1.9 does not read a gzipped docker-archive: the archive is unpacked into a private
temporary directory first, hashing the bytes it reads, so what is pushed is what was checked). An image whose tag
in the registry already carries the same config digest (``skopeo inspect --raw --config``: its sha256 is the image
ID) is left alone, so a second run pushes nothing.

Credentials reach skopeo only through a containers-auth.json written 0600 in a private (0700) temporary directory
and removed afterwards, never on its command line; the organisation's CA through a certificate directory holding
only ``ca.crt`` (skopeo would take any ``*.cert``/``*.key`` beside a CA file for a client certificate).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.images import transport_options
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.manifest import load, sha256_file
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import repository_path
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._files import write_private
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.registry import split_registry
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import redact_known

SKOPEO = "skopeo"
_CHUNK = 1024 * 1024
# A repository path component as the distribution spec's reference grammar allows it.
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
# What skopeo says, mapped to what the user should do (first match wins).
_ABSENT = ("manifest unknown", "name unknown", "not found")
_LOG_MESSAGE = re.compile(r'level=\w+ msg="((?:[^"\\]|\\.)*)"')
_PROBLEMS = (
    (("unauthorized", "invalid username/password", "authentication required", "denied"),
     "the registry refused the credentials{user}",
     "check registry_username and registry_password (bundle_mirror_username / bundle_mirror_password) for {host}; "
     "the account needs push and pull rights on the repositories"),
    (("x509", "certificate"),
     "the registry's TLS certificate is not trusted",
     "give the organisation's CA file in ca_path (bundle_mirror_ca_cert), or for a plain-HTTP test registry write "
     "it as http://{host}"),
    (("server gave http response to https client",),
     "the registry answers plain HTTP",
     "write the registry as http://{host} (plain HTTP: for a test registry only)"),
    (("connection refused", "no such host", "i/o timeout", "no route to host", "network is unreachable"),
     "the registry does not answer",
     "check the address {host} and that this host reaches it (run the play where the registry is reachable, "
     "bundle_mirror_host)"),
)


def check_prefix(prefix):
    """``prefix`` without slashes at its ends when every component is a valid repository component; '' for none."""
    text = (prefix or "").strip("/")
    if text and not all(_COMPONENT.match(part) for part in text.split("/")):
        raise InputError("repository_prefix", prefix, "is not a repository path (lower-case letters, digits and "
                         "single '.', '_' or '-' between them, components separated by '/')",
                         "use e.g. mirror/gitlab, or leave it empty to keep each image's own path")
    return text


def target_reference(host, prefix, repository, tag):
    """``host[:port]/[prefix/]path:tag``: the image's repository path (without the registry it came from, when the
    manifest names one) kept under the new registry host."""
    path = "/".join(part for part in (prefix, repository_path(repository)) if part)
    return "{0}/{1}:{2}".format(host, path, tag)


def registry_host(registry, validate_certs=True):
    """(host[:port], verify TLS?) of ``registry``: ``http://`` means plain HTTP (no TLS to verify)."""
    if not registry:
        raise InputError("mirror_registry", registry, "is empty", "give the internal registry as host[:port]")
    base, host = split_registry(registry)
    return host, validate_certs and base.startswith("https://")


def _basic(username, password):
    return base64.b64encode("{0}:{1}".format(username, password or "").encode("utf-8")).decode("ascii")


@contextlib.contextmanager
def registry_access(host, username=None, password=None, ca_path=None):
    """{authfile, cert_dir} for skopeo, in a private temporary directory that is removed on the way out: the auth
    file (0600) and the CA as ``certs/ca.crt``. Any failure removes it; a run killed by a signal leaves that 0700
    directory (in /dev/shm: memory, gone at the next boot) behind, readable by this user only."""
    if ca_path and not os.path.isfile(ca_path):
        raise InputError("ca_path", ca_path, "is not a file on the host that pushes",
                         "give the path of the organisation's CA certificate (PEM) on that host")
    # On a tmpfs when there is one: the credentials never reach a disk.
    work = tempfile.mkdtemp(prefix="duo-mirror-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    try:
        access = {"authfile": None, "cert_dir": None}
        if username:
            access["authfile"] = os.path.join(work, "auth.json")
            write_private(access["authfile"], json.dumps({"auths": {host: {"auth": _basic(username, password)}}}))
        if ca_path:
            access["cert_dir"] = os.path.join(work, "certs")
            os.mkdir(access["cert_dir"], 0o700)
            shutil.copyfile(ca_path, os.path.join(access["cert_dir"], "ca.crt"))
        yield access
    finally:
        shutil.rmtree(work, ignore_errors=True)


class Skopeo:
    """skopeo against one registry; its failures become a DuoError naming the registry and the fix, with the
    credentials scrubbed from whatever it said."""

    def __init__(self, host, username=None, password=None, runner=subprocess.run, timeout=3600):
        self.host = host
        self.username = username
        self.runner = runner
        self.timeout = timeout
        # The password, and the auth file's form of it (base64 of user:password).
        self.secrets = [password, _basic(username, password)] if password else []

    def run(self, argv, what):
        """(exit code, stdout bytes, last line of stderr)."""
        try:
            completed = self.runner([SKOPEO] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise DuoError("skopeo is not installed on the host that pushes to the registry. Fix: apt-get install "
                           "skopeo (Debian/Ubuntu) or dnf install skopeo there, then run the play again.")
        except subprocess.TimeoutExpired:
            raise DuoError("{0}: skopeo did not finish in {1} s. Fix: check the connection to {2}.".format(
                what, self.timeout, self.host))
        lines = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        said = lines[-1] if lines else "skopeo exited {0}".format(completed.returncode)
        logged = _LOG_MESSAGE.search(said)  # time="..." level=fatal msg="...": the message alone
        if logged:
            said = logged.group(1).replace('\\"', '"')
        return completed.returncode, completed.stdout, redact_known(said, self.secrets)

    def fail(self, what, said):
        lowered = said.lower()
        for needles, problem, fix in _PROBLEMS:
            if any(needle in lowered for needle in needles):
                user = " of user {0!r}".format(self.username) if self.username else " (none were given)"
                raise DuoError("{0}: {1} (skopeo: {2}). Fix: {3}.".format(
                    what, problem.format(user=user), said, fix.format(host=self.host)), registry=self.host)
        raise DuoError("{0}: skopeo: {1}. Fix: check the registry {2}, the credentials and the CA.".format(
            what, said, self.host), registry=self.host)

    def config_digest(self, reference, options):
        """``sha256:<hex>`` of the config of ``reference`` in the registry (its image ID); None when the tag is absent."""
        code, raw, said = self.run(["inspect", "--raw", "--config"] + options + ["docker://" + reference],
                                   "Reading {0}".format(reference))
        if code == 0:
            return "sha256:" + hashlib.sha256(raw).hexdigest()
        if any(needle in said.lower() for needle in _ABSENT) and "unauthorized" not in said.lower():
            return None
        self.fail("Reading {0}".format(reference), said)
        return None  # not reached: fail() raises

    def push(self, archive, reference, options):
        argv = ["copy", "--quiet"] + options + ["docker-archive:" + archive, "docker://" + reference]
        code, _raw, said = self.run(argv, "Pushing {0}".format(reference))
        if code != 0:
            self.fail("Pushing {0}".format(reference), said)


def _archive_problem(bundle, image, problem):
    return DuoError("bundle={0!r}: the archive {1} of {2} {3}; nothing of it was pushed. Fix: carry the bundle in "
                    "again (or rebuild it with gitlab_duo.self_hosted.bundle) and check it with the bundle's verify "
                    "step.".format(bundle, image["archive"], image["reference"], problem),
                    field="bundle", archive=image["archive"])


def check_archive(bundle, image):
    """The archive of ``image`` matches the manifest (size and sha256), or DuoError naming it."""
    path = os.path.join(bundle, image["archive"])
    if not os.path.isfile(path):
        raise _archive_problem(bundle, image, "is missing")
    digest, size = sha256_file(path)
    if size != image["size"] or digest != image["sha256"]:
        raise _archive_problem(bundle, image, "is corrupted: {0} bytes with sha256 {1}, the manifest says {2} "
                                              "bytes with sha256 {3}".format(size, digest, image["size"], image["sha256"]))


def unpack(bundle, image, directory):
    """The archive of ``image`` gunzipped into ``directory``, hashing what is read: a file changed since it was
    checked is refused here too, so what skopeo pushes is what the manifest describes."""
    source = os.path.join(bundle, image["archive"])
    target = os.path.join(directory, "image.tar")
    digest = hashlib.sha256()
    with open(source, "rb") as raw, open(target, "wb") as plain:
        reader = _Hashing(raw, digest)
        try:
            with gzip.GzipFile(fileobj=reader, mode="rb") as packed:
                shutil.copyfileobj(packed, plain, _CHUNK)
        except (OSError, EOFError) as exc:
            raise _archive_problem(bundle, image, "cannot be unpacked ({0})".format(exc))
        reader.drain()
    if digest.hexdigest() != image["sha256"]:
        raise _archive_problem(bundle, image, "changed while it was read (sha256 {0}, the manifest says {1})".format(
            digest.hexdigest(), image["sha256"]))
    return target


class _Hashing:
    """A file object that hashes what is read from it (gzip reads in its own chunks)."""

    def __init__(self, handle, digest):
        self.handle = handle
        self.digest = digest

    def read(self, size=-1):
        data = self.handle.read(size)
        self.digest.update(data)
        return data

    def drain(self):
        """Hash what gzip left unread (trailing bytes), so the digest covers the whole file."""
        while self.read(_CHUNK):
            pass


def plan(data, host, prefix, roles=None):
    """[(image entry, target reference)] for the images of ``roles`` (all when None), in manifest order."""
    return [(image, target_reference(host, prefix, image["repository"], image["tag"]))
            for image in data["images"] if roles is None or image["role"] in roles]


def mirror(params, check_mode=False, runner=subprocess.run):
    """The bundle_mirror module's answer. Everything is read and checked first - the manifest, what the registry
    holds, the archive of every image to push - so bad input or a corrupted archive fails before anything is
    pushed. Then each image is unpacked, pushed and read back. A run killed during a push leaves the tag as it was
    (the registry writes the manifest last; blobs already sent are reused by the next run, which pushes it again)."""
    bundle = params["bundle_dir"]
    data = load(bundle)
    host, tls_verify = registry_host(params["mirror_registry"], params["validate_certs"])
    prefix = check_prefix(params.get("repository_prefix"))
    images = plan(data, host, prefix, params.get("roles"))
    username, password = params.get("registry_username"), params.get("registry_password")
    skopeo = Skopeo(host, username, password, runner)
    result = {"changed": False, "registry": host, "images": [], "pushed": [],
              "diff": {"before": {}, "after": {}}}
    with registry_access(host, username, password, params.get("ca_path")) as access:
        inspect = transport_options("", tls_verify, access["authfile"], access["cert_dir"])
        to_push = []
        for image, target in images:
            found = skopeo.config_digest(target, inspect)
            entry = {"target": target, "role": image["role"], "tag": image["tag"], "image_id": image["image_id"],
                     "archive": image["archive"], "registry_image_id": found}
            entry["action"] = "present" if found == image["image_id"] else "push"
            result["images"].append(entry)
            result["diff"]["before"][target] = found or "absent"
            result["diff"]["after"][target] = image["image_id"]
            if entry["action"] == "push":
                to_push.append((image, entry))
        for image, _entry in to_push:
            check_archive(bundle, image)
        result["changed"] = bool(to_push)
        result["pushed"] = [entry["target"] for _image, entry in to_push]
        if check_mode:
            return result
        push = transport_options("dest", tls_verify, access["authfile"], access["cert_dir"])
        for image, entry in to_push:
            with tempfile.TemporaryDirectory(prefix="duo-mirror-image-", dir=params.get("tmp_dir")) as work:
                skopeo.push(unpack(bundle, image, work), entry["target"], push)
            pushed = skopeo.config_digest(entry["target"], inspect)
            if pushed != image["image_id"]:
                raise DuoError("The registry {0} holds {1} with image ID {2} after the push, not {3}. Fix: check that "
                               "nothing else writes that tag, then run again.".format(
                                   host, entry["target"], pushed, image["image_id"]), registry=host)
            entry.update(action="pushed", registry_image_id=pushed)
    return result
