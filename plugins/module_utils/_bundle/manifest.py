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
     "wheels": {"control": {"python_versions": ["3.11"], "platforms": ["manylinux_2_36_x86_64"],
                            "implementation": "cp", "directory": "wheels/control",
                            "requirements": "requirements/control.txt", "packages": ["<wheel file name>", ...]},
                "targets": {...}},                            # a set is absent when it was not asked for
     "files": {"<relative path>": {"sha256": "<hex>", "size": <bytes>}, ...}}   # every file but manifest.json

Everything under ``images/``, ``collection/``, ``wheels/`` and ``requirements/`` is the build's: a rebuild removes
what it no longer wants there. A file elsewhere in the directory is not the build's and is never listed, so
``verify`` reports it.

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
MANAGED_DIRS = ("images", "collection", "wheels", "requirements")
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


def file_entries(bundle, known=None, paths=None, computed=None):
    """{relative path: {sha256, size}} of ``paths`` (default: every file of the bundle).

    ``computed`` holds hashes the build computed in this run (an archive it fetched or checked, the wheels it
    compared): one whose size still matches is taken as is, so a rebuild reads each large file once. ``known``
    (entries carrying ``mtime_ns``) is taken only where size and mtime both still match. Any other file is hashed.
    The entries written hold sha256 and size only: a manifest carries no machine's timestamps."""
    entries = {}
    for relative in sorted(paths) if paths is not None else bundle_files(bundle):
        path = os.path.join(bundle, relative)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            _fail(bundle, "{0} is missing: the build did not leave it where it said".format(relative),
                  "run the build again")
        fresh, old = (computed or {}).get(relative), (known or {}).get(relative)
        if fresh and fresh.get("size") == stat.st_size and _HEX64.match(str(fresh.get("sha256"))):
            entries[relative] = dict(sha256=fresh["sha256"], size=stat.st_size)
        elif old and (old.get("size"), old.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
            entries[relative] = dict(sha256=old["sha256"], size=stat.st_size)
        else:
            digest, size = sha256_file(path)
            entries[relative] = dict(sha256=digest, size=size)
    return entries


def previous(bundle):
    """(manifest, problem): the bundle's valid manifest, or None and why there is none (absent, unreadable or not
    format 1), for a build that starts over where the old manifest cannot be trusted."""
    if not os.path.exists(os.path.join(bundle, MANIFEST_NAME)):
        return None, None
    try:
        return load(bundle), None
    except DuoError as exc:
        return None, exc.msg


def same_content(first, second):
    """Whether two manifests say the same, ``created`` aside (a rebuild that changed nothing keeps the file)."""
    if first is None or second is None:
        return first is second
    return _without_created(first) == _without_created(second)


def _without_created(data):
    return json.dumps({key: value for key, value in data.items() if key != "created"}, sort_keys=True)


def managed(relative):
    """Whether ``relative`` lies where only the build writes (images/, collection/, wheels/, requirements/)."""
    return relative.split("/", 1)[0] in MANAGED_DIRS and "/" in relative


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


# What to do about each kind of problem verify() finds.
FIX_DAMAGED = ("build again on the connected machine (a rebuild fetches again only what is missing or damaged), or "
               "copy this file again from the bundle you built")
FIX_EXTRA = ("remove it: only what the manifest lists is carried in (a rebuild itself removes what it no longer "
             "wants under images/, collection/, wheels/ and requirements/)")


def verify(bundle, data=None):
    """Problems of the bundle against its manifest, as [{path, problem, fix}]: a listed file missing or changed (size
    or sha256), an image archive or the collection tarball the files do not list alike, a file the manifest does not
    list."""
    data = data if data is not None else load(bundle)
    problems = []

    def report(path, problem, fix=FIX_DAMAGED):
        problems.append(dict(path=path, problem=problem, fix=fix))

    present = set(bundle_files(bundle))
    for relative, entry in sorted(data["files"].items()):
        path = os.path.join(bundle, relative)
        if relative not in present:
            report(relative, "missing")
            continue
        digest, size = sha256_file(path)
        if size != entry.get("size", size):
            report(relative, "size {0} bytes, manifest says {1}".format(size, entry["size"]))
        elif digest != entry["sha256"]:
            report(relative, "sha256 {0}, manifest says {1}".format(digest, entry["sha256"]))
    for image in data["images"]:
        entry = data["files"].get(image["archive"])
        if entry is None:
            report(image["archive"], "image archive not listed in files")
        elif entry["sha256"] != image["sha256"]:
            report(image["archive"], "files and images disagree on its sha256")
    collection = data["collection"].get("file")
    if collection and collection not in data["files"]:
        report(collection, "collection tarball not listed in files")
    for relative in sorted(present - set(data["files"])):
        report(relative, "not in the manifest", FIX_EXTRA)
    return problems


def check(bundle):
    """The bundle_verify module's answer: what the bundle holds when every file matches the manifest; DuoError naming
    each bad file, its problem and what to do otherwise."""
    try:
        data = load(bundle)
    except DuoError as exc:
        raise DuoError(exc.msg, ok=False, problems=[dict(path=MANIFEST_NAME, problem=exc.msg, fix=FIX_DAMAGED)])
    problems = verify(bundle, data)
    summary = dict(changed=False, bundle=bundle, files=len(data["files"]), gitlab_versions=data["gitlab_versions"],
                   collection=data["collection"], created=data.get("created"),
                   images=[{key: image.get(key) for key in ("role", "reference", "image_id", "archive")}
                           for image in data["images"]])
    if problems:
        raise DuoError("bundle={0!r} does not match its manifest ({1} problem{2}): {3}".format(
            bundle, len(problems), "" if len(problems) == 1 else "s",
            "; ".join("{path}: {problem}. Fix: {fix}".format(**problem) for problem in problems)),
            problems=problems, ok=False, **{key: value for key, value in summary.items() if key != "changed"})
    summary.update(ok=True, problems=[])
    return summary


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


# The option every bundle module takes (doc fragment gitlab_duo.self_hosted.bundle).
BUNDLE_DIR_OPTION = dict(type="path", required=True)
