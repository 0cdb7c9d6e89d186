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

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.manifest import sha256_file
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

SKOPEO = "skopeo"


def _run(argv, what, runner=subprocess.run, timeout=3600):
    try:
        completed = runner(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, check=False)
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


def registry_digest(source, tls_verify=True, authfile=None, cert_dir=None, runner=subprocess.run):
    """sha256 of the registry's manifest for ``source`` (host/repository:tag): one request."""
    raw = _run([SKOPEO, "inspect", "--raw"] + transport_options("", tls_verify, authfile, cert_dir)
               + ["docker://" + source], "reading {0}".format(source), runner)
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
                runner=subprocess.run):
    """Copy ``source`` (host/repository:tag) into the gzipped docker-archive ``archive_path``, loading as
    ``reference``. Written beside and renamed at the end: a killed build never leaves a half archive under the
    final name. Returns {image_id, digest, sha256, size}."""
    digest = registry_digest(source, tls_verify, authfile, cert_dir, runner)
    directory = os.path.dirname(archive_path) or "."
    os.makedirs(directory, exist_ok=True)
    tar_path, partial = archive_path + ".tar.partial", archive_path + ".partial"
    for path in (tar_path, partial):
        if os.path.exists(path):
            os.remove(path)
    try:
        _run([SKOPEO, "copy", "--quiet"] + transport_options("src", tls_verify, authfile, cert_dir)
             + platform_options(platform)
             + ["docker://" + source, "docker-archive:{0}:{1}".format(tar_path, reference)],
             "copying {0}".format(source), runner)
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
