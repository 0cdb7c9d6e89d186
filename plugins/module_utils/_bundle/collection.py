# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection tarball of the air-gap bundle (private to gitlab_duo.self_hosted; the bundle_collection service).

From a source checkout (``galaxy.yml``) it is ``ansible-galaxy collection build`` (its ``build_ignore`` leaves the lab
and tests out). From an installed collection - where ``ansible-playbook gitlab_duo.self_hosted.bundle`` normally runs
from, and which has no ``galaxy.yml`` - the files ``FILES.json`` lists are packed again with that ``FILES.json`` and
``MANIFEST.json``, after checking each against its recorded sha256: the same tarball ``ansible-galaxy collection
install`` takes (it checks them again).

A build stamps times into the tarball, so its bytes differ every time; two tarballs are the same collection when their
``MANIFEST.json`` and ``FILES.json`` (which hold every file's sha256) are equal, and then the bundle's copy is kept.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import manifest
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError

META = ("MANIFEST.json", "FILES.json")


def galaxy_command():
    """ansible-galaxy beside this Python (the same installation), else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    found = beside if os.access(beside, os.X_OK) else shutil.which("ansible-galaxy")
    if not found:
        raise DuoError("ansible-galaxy is not found beside {0} nor on PATH. Fix: give galaxy_command, or run the "
                       "build where ansible-core is installed.".format(sys.executable))
    return [found]


def identity(tar_path):
    """{MANIFEST.json, FILES.json} of a collection tarball, parsed; None when it cannot be read as one."""
    try:
        with tarfile.open(tar_path) as archive:
            found = {}
            for name in META:
                member = archive.extractfile(name)
                found[name] = json.loads(member.read().decode("utf-8")) if member else None
    except (OSError, tarfile.TarError, KeyError, ValueError, EOFError):
        return None
    return found if all(found.values()) else None


def _installed_files(path):
    """The (FILES.json entry, absolute path) pairs of an installed collection, each file checked against its sha256."""
    with open(os.path.join(path, "FILES.json"), encoding="utf-8") as handle:
        entries = json.load(handle)["files"]
    changed = []
    for entry in entries:
        full = os.path.join(path, entry["name"])
        if entry["ftype"] == "file" and (not os.path.isfile(full)
                                         or manifest.sha256_file(full)[0] != entry.get("chksum_sha256")):
            changed.append(entry["name"])
    if changed:
        raise DuoError("collection_path={0!r}: the installed collection differs from its FILES.json ({1}). Fix: "
                       "install it again (ansible-galaxy collection install --force) or build the bundle from a "
                       "source checkout.".format(path, ", ".join(changed[:5])), field="collection_path")
    return [(entry, os.path.join(path, entry["name"])) for entry in entries if entry["name"] != "."]


def repack(path, out_dir):
    """A collection tarball from the installed collection at ``path``, in ``out_dir``; its path."""
    with open(os.path.join(path, "MANIFEST.json"), encoding="utf-8") as handle:
        info = json.load(handle)["collection_info"]
    target = os.path.join(out_dir, "{namespace}-{name}-{version}.tar.gz".format(**info))
    stamp = int(os.stat(os.path.join(path, "MANIFEST.json")).st_mtime)

    def add(archive, name, kind, full):
        tarinfo = tarfile.TarInfo(name)
        tarinfo.mtime, tarinfo.uid, tarinfo.gid, tarinfo.uname, tarinfo.gname = stamp, 0, 0, "", ""
        if kind == "dir":
            tarinfo.type, tarinfo.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(tarinfo)
            return
        tarinfo.size = os.path.getsize(full)
        tarinfo.mode = 0o755 if os.stat(full).st_mode & 0o111 else 0o644
        with open(full, "rb") as handle:
            archive.addfile(tarinfo, handle)

    with open(target, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=stamp) as packed:
        with tarfile.open(fileobj=packed, mode="w", format=tarfile.GNU_FORMAT) as archive:
            for name in META:
                add(archive, name, "file", os.path.join(path, name))
            for entry, full in _installed_files(path):
                add(archive, entry["name"], entry["ftype"], full)
    return target


def build(path, out_dir, galaxy=None, runner=subprocess.run):
    """The tarball of the collection at ``path`` (checkout or installed), written into the empty ``out_dir``."""
    if os.path.isfile(os.path.join(path, "galaxy.yml")):
        completed = runner((galaxy or galaxy_command()) + ["collection", "build", "--output-path", out_dir, path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                           timeout=600)
        built = [name for name in os.listdir(out_dir) if name.endswith(".tar.gz")]
        if completed.returncode != 0 or len(built) != 1:
            message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
            raise DuoError("ansible-galaxy collection build {0} failed: {1}. Fix: check galaxy.yml there.".format(
                path, message[-1] if message else "exit {0}".format(completed.returncode)))
        return os.path.join(out_dir, built[0])
    if all(os.path.isfile(os.path.join(path, name)) for name in META):
        return repack(path, out_dir)
    raise InputError("collection_path", path, "is neither a collection checkout (galaxy.yml) nor an installed "
                     "collection (MANIFEST.json, FILES.json)", "point at gitlab_duo/self_hosted's directory")


def _inside(child, parent):
    child, parent = os.path.realpath(child), os.path.realpath(parent)
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def ensure_collection(params, check_mode, runner=subprocess.run):
    """The bundle_collection module's answer: ``collection/<namespace>-<name>-<version>.tar.gz``, replaced only when
    the collection's files changed (or the bundle's copy no longer matches the manifest)."""
    bundle, path = params["bundle_dir"], params["collection_path"]
    if _inside(bundle, path):
        raise InputError("bundle_dir", bundle, "lies inside the collection it would pack ({0})".format(path),
                         "build the bundle in a directory outside the collection")
    scratch = tempfile.mkdtemp(prefix="duo-bundle-collection-")
    try:
        built = build(path, scratch, params["galaxy_command"], runner)
        new = identity(built)
        if new is None:
            raise DuoError("{0}: the built tarball has no MANIFEST.json/FILES.json. Fix: check the collection at "
                           "{1}".format(os.path.basename(built), path))
        info = new["MANIFEST.json"]["collection_info"]
        relative = "collection/" + os.path.basename(built)
        target = os.path.join(bundle, relative)
        data, _problem = manifest.previous(bundle)
        recorded = (data or {}).get("files", {}).get(relative)
        kept = os.path.isfile(target) and identity(target) == new
        if kept:
            digest, size = manifest.sha256_file(target)
            kept = recorded is None or (recorded["sha256"], recorded.get("size")) == (digest, size)
        if not kept:
            digest, size = manifest.sha256_file(built)
            if not check_mode:
                # Copied beside, then renamed: a kill leaves the old tarball or the new one, never half of one.
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(built, target + ".partial")
                os.replace(target + ".partial", target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dict(changed=not kept, collection=dict(name="{namespace}.{name}".format(**info), version=info["version"],
                                                  file=relative, sha256=digest, size=size),
                source="checkout" if os.path.isfile(os.path.join(path, "galaxy.yml")) else "installed")
