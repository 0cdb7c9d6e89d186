# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The air-gap bundle's ``manifest.json`` (private to gitlab_duo.self_hosted): its shape, reading, writing and
checking a bundle directory against it.

A bundle is one directory::

    manifest.json
    images/<repository-stem>_<tag>.tar.gz      docker-archive, gzip; ``docker load`` reads it as is
    collection/gitlab_duo-self_hosted-<version>.tar.gz
    wheels/control/*.whl                        the control node's Python dependencies
    wheels/targets/*.whl                        the targets' (for their Python version and platform)
    requirements/control.txt, requirements/targets.txt

``manifest.json`` (format 1)::

    {"format": 1, "created": "<UTC ISO 8601>",
     "collection": {"name": "gitlab_duo.self_hosted", "version": "0.1.0", "file": "collection/..."},
     "gitlab_versions": {"18.2.1": "self-hosted-v18.2.1-ee", ...},   # what each version asked for
     "images": [{"role": "gateway" | "proxy", "source": "<registry>/<repository>:<tag>",
                 "reference": "<registry>/<repository>:<tag>",        # the name the archive loads as
                 "repository": "...", "tag": "...", "image_id": "sha256:<config digest>",
                 "digest": "sha256:<manifest digest in the source registry>", "platform": "linux/amd64",
                 "archive": "images/...", "sha256": "<hex>", "size": <bytes>, "gitlab_versions": ["18.2.1"]}],
     "wheels": {"control": {"python": "3.11", "platform": "...", "requirements": "requirements/control.txt"},
                "targets": {...}},
     "files": {"<relative path>": {"sha256": "<hex>", "size": <bytes>}, ...}}   # every file but manifest.json

The image ID (the sha256 of the image's config) is what ``docker image inspect`` reports after ``docker load``
on any engine, so a target compares it to decide whether an archive must be copied at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

MANIFEST_NAME = "manifest.json"
FORMAT = 1
ROLES = ("gateway", "proxy")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


def sha256_file(path):
    """(hex sha256, size) of the file at ``path``, read in 1 MiB chunks (archives are gigabytes)."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def archive_name(repository, tag):
    """``images/<last part of the repository>_<tag>.tar.gz``: unique per image of one bundle, safe on every FS."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", repository.strip("/").rsplit("/", 1)[-1])
    return "images/{0}_{1}.tar.gz".format(stem, re.sub(r"[^A-Za-z0-9_.-]", "_", tag))


def _fail(bundle, problem, fix="rebuild the bundle with gitlab_duo.self_hosted.bundle"):
    raise DuoError("bundle={0!r}: {1}. Fix: {2}".format(bundle, problem, fix), field="bundle")


def _check_image(bundle, index, image):
    where = "images[{0}]".format(index)
    if not isinstance(image, dict):
        _fail(bundle, "manifest {0} is not an object".format(where))
    for key in ("role", "reference", "repository", "tag", "image_id", "archive", "sha256", "size"):
        if key not in image:
            _fail(bundle, "manifest {0} has no '{1}'".format(where, key))
    if image["role"] not in ROLES:
        _fail(bundle, "manifest {0}.role={1!r} is not one of {2}".format(where, image["role"], ", ".join(ROLES)))
    if not _DIGEST.match(str(image["image_id"])):
        _fail(bundle, "manifest {0}.image_id={1!r} is not sha256:<64 hex>".format(where, image["image_id"]))
    if not _HEX64.match(str(image["sha256"])):
        _fail(bundle, "manifest {0}.sha256={1!r} is not 64 hex digits".format(where, image["sha256"]))
    _relative(bundle, image["archive"], where + ".archive")


def _relative(bundle, path, where):
    """``path`` when it is a plain relative path inside the bundle (a manifest never points outside it)."""
    text = str(path)
    parts = text.split("/")
    if not text or text.startswith("/") or "\\" in text or any(part in ("", ".", "..") for part in parts):
        _fail(bundle, "manifest {0}={1!r} is not a relative path inside the bundle".format(where, path))
    return text


def validate(bundle, data):
    """``data`` when it is a format-1 manifest; DuoError naming the first problem otherwise."""
    if not isinstance(data, dict):
        _fail(bundle, "manifest.json is not a JSON object")
    if data.get("format") != FORMAT:
        _fail(bundle, "manifest format {0!r} is not {1}".format(data.get("format"), FORMAT),
              "use the collection version that built the bundle, or rebuild it")
    for key, kind in (("images", list), ("files", dict), ("gitlab_versions", dict), ("collection", dict)):
        if not isinstance(data.get(key), kind):
            _fail(bundle, "manifest.json has no '{0}' {1}".format(key, kind.__name__))
    for index, image in enumerate(data["images"]):
        _check_image(bundle, index, image)
    for path, entry in data["files"].items():
        _relative(bundle, path, "files")
        if not isinstance(entry, dict) or not _HEX64.match(str(entry.get("sha256"))):
            _fail(bundle, "manifest files[{0!r}] has no sha256".format(path))
    return data


def load(bundle):
    """The validated manifest of the bundle directory ``bundle``."""
    path = os.path.join(bundle, MANIFEST_NAME)
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        _fail(bundle, "no {0} in it (not a bundle directory)".format(MANIFEST_NAME),
              "point at the directory gitlab_duo.self_hosted.bundle wrote")
    except (OSError, ValueError) as exc:
        _fail(bundle, "cannot read {0}: {1}".format(MANIFEST_NAME, exc))
    return validate(bundle, data)


def bundle_files(bundle):
    """Relative paths of every regular file under ``bundle`` but the manifest (and its temporary), sorted."""
    found = []
    for root, dirs, files in os.walk(bundle):
        dirs.sort()
        for name in files:
            relative = os.path.relpath(os.path.join(root, name), bundle).replace(os.sep, "/")
            if relative not in (MANIFEST_NAME, MANIFEST_NAME + ".tmp"):
                found.append(relative)
    return sorted(found)


def file_entries(bundle, known=None):
    """{relative path: {sha256, size}} of every file of the bundle. ``known`` (an older manifest's ``files``) saves
    re-hashing a file whose size and mtime it already recorded."""
    entries = {}
    for relative in bundle_files(bundle):
        path = os.path.join(bundle, relative)
        stat = os.stat(path)
        old = (known or {}).get(relative)
        if old and old.get("size") == stat.st_size and old.get("mtime_ns") == stat.st_mtime_ns:
            entries[relative] = old
            continue
        digest, size = sha256_file(path)
        entries[relative] = {"sha256": digest, "size": size, "mtime_ns": stat.st_mtime_ns}
    return entries


def write(bundle, data):
    """Write ``data`` as the bundle's manifest (validated, atomically: a killed build leaves the old manifest)."""
    validate(bundle, data)
    path = os.path.join(bundle, MANIFEST_NAME)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path


def verify(bundle, data=None):
    """Problems of the bundle against its manifest, as [{path, problem}]: a listed file missing or changed (size or
    sha256), an image archive whose checksum differs from its image entry, a file the manifest does not list."""
    data = data if data is not None else load(bundle)
    problems = []
    present = set(bundle_files(bundle))
    for relative, entry in sorted(data["files"].items()):
        path = os.path.join(bundle, relative)
        if relative not in present:
            problems.append(dict(path=relative, problem="missing"))
            continue
        digest, size = sha256_file(path)
        if size != entry.get("size", size):
            problems.append(dict(path=relative, problem="size {0} bytes, manifest says {1}".format(size, entry["size"])))
        elif digest != entry["sha256"]:
            problems.append(dict(path=relative, problem="sha256 {0}, manifest says {1}".format(digest, entry["sha256"])))
    for image in data["images"]:
        entry = data["files"].get(image["archive"])
        if entry is None:
            problems.append(dict(path=image["archive"], problem="image archive not listed in files"))
        elif entry["sha256"] != image["sha256"]:
            problems.append(dict(path=image["archive"], problem="files and images disagree on its sha256"))
    for relative in sorted(present - set(data["files"])):
        problems.append(dict(path=relative, problem="not in the manifest"))
    return problems


def covered_versions(data):
    """'GitLab 18.2.1 (self-hosted-v18.2.1-ee), ...': what a bundle serves, for error messages."""
    pairs = sorted(data["gitlab_versions"].items())
    return ", ".join("{0} ({1})".format(version, tag) for version, tag in pairs) or "no GitLab version"


def gateway_tags(data):
    return sorted({image["tag"] for image in data["images"] if image["role"] == "gateway"})


def image_entry(data, role, tag=None, reference=None):
    """The image entry of ``role`` with ``tag`` (gateway) or ``reference`` (proxy); None when the bundle lacks it."""
    for image in data["images"]:
        if image["role"] != role:
            continue
        if (tag is not None and image["tag"] == tag) or (reference is not None and image["reference"] == reference):
            return image
    return None
