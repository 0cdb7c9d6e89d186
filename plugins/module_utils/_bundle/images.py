# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image archives for the air-gap bundle (private to gitlab_duo.self_hosted), made with skopeo.

Why skopeo and not ``docker save``: it copies straight from the registry into a ``docker-archive`` (which every
``docker load`` reads) with no Docker engine on the building machine and no image left behind in one, checks every
blob against its digest on the way, chooses the platform of a multi-arch image, and reads credentials from an auth
file (never argv). The archive is then gzipped here (``docker load`` reads gzip as is).

The image ID recorded is the config digest named in the archive's own ``manifest.json``: what ``docker image
inspect`` reports after the load on any engine. The digest recorded is the sha256 of the registry's manifest (the
index of a multi-arch image), so a rebuild asks the registry one question to learn whether anything changed.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.manifest import sha256_file
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import split_image
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError

SKOPEO = "skopeo"
DEFAULT_PLATFORM = "linux/amd64"
# Docker's rule for the first part of an image name: a registry host when it has a dot or a port, or is localhost.
_DOCKER_HUB = "docker.io"


def _run(argv, what, runner=subprocess.run, timeout=3600, pass_fds=()):
    try:
        completed = runner(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, check=False, pass_fds=pass_fds)
    except FileNotFoundError:
        raise DuoError("skopeo is not installed on the machine that builds the bundle. Fix: apt-get install "
                       "skopeo (Debian/Ubuntu) or dnf install skopeo, then run the bundle again.")
    except subprocess.TimeoutExpired:
        raise DuoError("{0}: skopeo did not finish in {1} s. Fix: check the registry connection.".format(what, timeout))
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DuoError("{0}: {1}. Fix: check the registry address, credentials and TLS settings.".format(
            what, message[-1] if message else "skopeo exited {0}".format(completed.returncode)))
    return completed.stdout


def transport_options(direction, tls_verify=True, authfile=None, cert_dir=None):
    """skopeo's options for one side (``src`` or ``dest``; empty for ``inspect``): TLS, CA directory, auth file."""
    prefix = "--{0}-".format(direction) if direction else "--"
    options = [prefix + "tls-verify=" + ("true" if tls_verify else "false")]
    if authfile:
        options.append(prefix + "authfile=" + authfile)
    if cert_dir:
        options.append(prefix + "cert-dir=" + cert_dir)
    return options


def platform_options(platform):
    """``--override-os/--override-arch[/--override-variant]`` from ``linux/amd64[/v8]``; none when not given."""
    if not platform:
        return []
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise DuoError("platform={0!r}: not os/arch[/variant]. Fix: e.g. linux/amd64 or linux/arm64".format(platform),
                       field="platform")
    names = ("--override-os", "--override-arch", "--override-variant")
    return [item for name, value in zip(names, parts) for item in (name, value)]


def parse_source(source, field="source"):
    """What an image reference with an optional scheme names: {insecure (http://: plain HTTP, no TLS), host,
    repository, tag, name (host/repository:tag, no scheme)}; a tag is required (a bundle records what it holds)."""
    text = (source or "").strip()
    scheme, _sep, rest = text.rpartition("://") if "://" in text else ("", "", text)
    name, tag = split_image(rest)
    if scheme not in ("", "http", "https") or not name or not tag or tag.startswith("sha256:") or "@" in rest:
        raise InputError(field, source, "is not [http://|https://]registry/repository:tag",
                         "give an image with a tag, e.g. registry.gitlab.com/group/image:1.0 (http:// for a "
                         "registry that speaks plain HTTP)")
    first, _sep, path = name.partition("/")
    if path and ("." in first or ":" in first or first == "localhost"):
        host, repository = first, path
    else:
        host, repository = _DOCKER_HUB, name if "/" in name else "library/" + name
    return dict(insecure=scheme == "http", host=host, repository=repository, tag=tag,
                name="{0}/{1}:{2}".format(host, repository, tag))


@contextlib.contextmanager
def registry_auth(host, username, password):
    """(authfile, fds) for skopeo: a containers-auth.json holding ``username``/``password`` for ``host``, never on
    argv. On Linux it is a memfd read through /dev/fd/N, which exists only in memory and goes with this process even
    when it is killed; elsewhere a 0600 temporary file removed at the end. (None, ()) without credentials."""
    if not username:
        yield None, ()
        return
    token = base64.b64encode("{0}:{1}".format(username, password or "").encode("utf-8")).decode("ascii")
    content = json.dumps({"auths": {host: {"auth": token}}}).encode("utf-8")
    if hasattr(os, "memfd_create"):
        descriptor = os.memfd_create("registry-auth")
        try:
            os.write(descriptor, content)
            yield "/dev/fd/{0}".format(descriptor), (descriptor,)
        finally:
            os.close(descriptor)
        return
    descriptor, path = tempfile.mkstemp(prefix="registry-auth-", suffix=".json")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        yield path, ()
    finally:
        os.remove(path)


@contextlib.contextmanager
def cert_dir(ca_path):
    """A directory holding ``ca_path`` as ``ca.crt``, the form skopeo takes a registry's CA in; None without one."""
    if not ca_path:
        yield None
        return
    if not os.path.isfile(ca_path):
        raise InputError("ca_path", ca_path, "is not a file", "give the PEM file of the registry's CA")
    directory = tempfile.mkdtemp(prefix="registry-ca-")
    try:
        shutil.copyfile(ca_path, os.path.join(directory, "ca.crt"))
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def registry_digest(source, tls_verify=True, authfile=None, cert_dir=None, runner=subprocess.run, pass_fds=()):
    """sha256 of the registry's manifest for ``source`` (host/repository:tag): one request."""
    raw = _run([SKOPEO, "inspect", "--raw"] + transport_options("", tls_verify, authfile, cert_dir)
               + ["docker://" + source], "reading {0}".format(source), runner, pass_fds=pass_fds)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def archive_image_id(tar_path):
    """The image ID (config digest) a docker-archive at ``tar_path`` loads as."""
    with tarfile.open(tar_path) as archive:
        member = archive.extractfile("manifest.json")
        entries = json.loads(member.read().decode("utf-8")) if member else []
    if len(entries) != 1 or not str(entries[0].get("Config", "")).endswith(".json"):
        raise DuoError("{0}: not a one-image docker-archive".format(tar_path))
    return "sha256:" + entries[0]["Config"][: -len(".json")].rsplit("/", 1)[-1]


def fetch_image(source, archive_path, reference, tls_verify=True, authfile=None, cert_dir=None, platform=None,
                runner=subprocess.run, digest=None, pass_fds=()):
    """Copy ``source`` (host/repository:tag) into the gzipped docker-archive ``archive_path``, loading as
    ``reference``. Written beside and renamed at the end: a killed build never leaves a half archive under the
    final name. With ``digest`` (read from the registry just before), exactly that manifest is copied, so a tag
    moved meanwhile cannot put other content under the recorded digest. Returns {image_id, digest, sha256, size}."""
    if digest is None:
        digest = registry_digest(source, tls_verify, authfile, cert_dir, runner, pass_fds)
    pinned = split_image(source)[0] + "@" + digest
    directory = os.path.dirname(archive_path) or "."
    os.makedirs(directory, exist_ok=True)
    tar_path, partial = archive_path + ".tar.partial", archive_path + ".partial"
    for path in (tar_path, partial):
        if os.path.exists(path):
            os.remove(path)
    try:
        _run([SKOPEO, "copy", "--quiet"] + transport_options("src", tls_verify, authfile, cert_dir)
             + platform_options(platform)
             + ["docker://" + pinned, "docker-archive:{0}:{1}".format(tar_path, reference)],
             "copying {0}".format(source), runner, pass_fds=pass_fds)
        image_id = archive_image_id(tar_path)
        with open(tar_path, "rb") as plain, open(partial, "wb") as raw:
            # mtime=0 and no file name: the same image gives the same archive bytes on every build.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as packed:
                shutil.copyfileobj(plain, packed, 1024 * 1024)
        os.replace(partial, archive_path)
    finally:
        for path in (tar_path, partial):
            if os.path.exists(path):
                os.remove(path)
    sha256, size = sha256_file(archive_path)
    return dict(image_id=image_id, digest=digest, sha256=sha256, size=size)
