# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bundle's image on a target (private to gitlab_duo.self_hosted; the gateway_image service).

The image is looked up by its ID (the sha256 of its config, which ``docker load`` keeps on every engine), so an
archive is copied to a host only when the image is not there: a host that has it, under any name, gets the
manifest's name (a tag) and nothing else. Otherwise the play copies the archive into the staging directory and
this service, holding the image's lock:

1. checks the archive's sha256 against the manifest, reading it in 1 MiB chunks, BEFORE anything is loaded; a
   mismatch removes the staged file and fails (nothing is loaded, nothing running is touched);
2. streams it to the engine (``docker load``; the gzip is read as is, nothing is held in memory);
3. checks that what was loaded has the manifest's image ID; otherwise removes what the load added, gives back any
   name it took, and fails;
4. names the image as the manifest says (a tag), then removes the staged archive.

Killed at any step, the next run finishes the job:
- during the copy (ansible.builtin.copy writes to a temporary file and renames it): the staging directory holds
  the whole archive or nothing; the next run copies it (a complete one with the same checksum is not sent again);
- during 1: nothing changed; the next run checks the staged archive again;
- during 2: the engine registers the whole image or none (layers already written are reused); the next run finds
  the image by ID, or checks and loads the staged archive again;
- during 3 or 4: the next run finds the image by ID (or, when the ID was wrong, loads and refuses it again), names
  it, and removes the staged archive it finds.
"""

from __future__ import annotations

import contextlib
import os
import re

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.manifest import sha256_file
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import (
    APIError, DockerException, ImageNotFound, RequestException, docker_client, split_image)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.host_facts import free_bytes_at
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import held, lock_directory

_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_LOADED = re.compile(r"Loaded image(?: ID)?: (\S+)")
VERIFY_FIX = "ansible-playbook gitlab_duo.self_hosted.bundle -e bundle_dir=<the bundle> --tags verify"


def check_params(params):
    """Every input, before the engine is asked anything."""
    image = params["image"] or ""
    name, tag = split_image(image)
    if "@" in image or tag is None or not name:
        raise InputError("image", image, "is not repository:tag", "give the name the archive loads as (the bundle "
                         "manifest's reference), e.g. registry.gitlab.com/...:self-hosted-v18.2.2-ee")
    if not _IMAGE_ID.match(params["image_id"] or ""):
        raise InputError("image_id", params["image_id"], "is not sha256:<64 hex digits>",
                         "give the image ID the bundle manifest records")
    if params["archive"] is not None:
        if not os.path.isabs(params["archive"]):
            raise InputError("archive", params["archive"], "is not an absolute path",
                             "give the archive's path on this host, e.g. /var/lib/gitlab-ai-gateway/bundle/x.tar.gz")
        if not _HEX64.match(params["sha256"] or ""):
            raise InputError("sha256", params["sha256"], "is not 64 hex digits",
                             "give the archive's sha256 from the bundle manifest")
    if params["size"] is not None and params["size"] < 0:
        raise InputError("size", params["size"], "is negative", "give the archive's size in bytes")


def find(client, image_id):
    try:
        return client.images.get(image_id)
    except ImageNotFound:
        return None


def named(client, reference):
    """The ID of the image ``reference`` names now; None when it names none."""
    found = find(client, reference)
    return found.id if found is not None else None


def tag(image, reference):
    repository, name = split_image(reference)
    image.tag(repository, name)


def _megabytes(count):
    return "{0:.1f} MB".format(count / 1048576.0)


def check_room(archive, size):
    """Free bytes where ``archive`` will be staged; DuoError before the copy when ``size`` does not fit."""
    directory = os.path.dirname(archive)
    free = free_bytes_at(directory)
    if size is not None and free < size:
        raise DuoError("archive={0!r}: {1} has {2} free, the archive is {3}. Fix: free space there, or stage archives "
                       "elsewhere (ai_gateway_bundle_staging_dir)".format(
                           archive, directory, _megabytes(free), _megabytes(size)), field="archive", free_bytes=free)
    return free


def verify_archive(params):
    """Step 1: the staged archive's sha256 equals the manifest's; else it is removed and the run fails."""
    archive = params["archive"]
    found, size = sha256_file(archive)
    if found == params["sha256"]:
        return size
    os.remove(archive)
    came_from = " (copied from {0} on the control node)".format(params["bundle_archive"]) \
        if params["bundle_archive"] else ""
    raise DuoError(
        "archive={0!r}{1}: sha256 {2} ({3} bytes), the bundle manifest says {4}{5}. The archive is damaged: it was "
        "removed from this host and nothing was loaded. Fix: check the bundle on the control node ({6}); rebuild or "
        "copy the bundle again, then run the play again (it copies the archive anew).".format(
            archive, came_from, found, size, params["sha256"],
            " ({0} bytes)".format(params["size"]) if params["size"] is not None else "", VERIFY_FIX),
        field="archive", expected_sha256=params["sha256"], found_sha256=found, archive=archive, loaded=False)


def load_archive(client, archive):
    """Step 2: ``docker load`` of ``archive``, streamed from the file. [(name or image ID, image ID)] loaded."""
    loaded, errors = [], []
    try:
        with open(archive, "rb") as handle:
            for chunk in client.api.load_image(handle):
                if chunk.get("error"):
                    errors.append(chunk["error"])
                match = _LOADED.search(chunk.get("stream", ""))
                if match:
                    loaded.append(match.group(1))
    except (APIError, DockerException, RequestException) as exc:
        errors.append(str(exc))
    if errors:
        raise DuoError("docker load {0}: {1}. Fix: check the Docker engine's free space and log (the archive passed "
                       "its checksum, so it is the one the bundle holds).".format(archive, "; ".join(errors)),
                       field="archive", loaded=False)
    return [(name, named(client, name)) for name in loaded]


def undo_load(client, loaded, names_before, ids_before):
    """Step 3 failed: remove the images the load added, take the names it put on images that were here before, and
    give each name back to the image it named before."""
    for name, image_id in loaded:
        if image_id is None:
            continue
        is_name = not name.startswith("sha256:")
        if image_id not in ids_before:
            client.images.remove(image_id, force=True)
        elif is_name and names_before.get(name) != image_id:
            client.images.remove(name)
        previous = names_before.get(name) if is_name else None
        if previous is not None and previous != image_id and find(client, previous) is not None:
            tag(find(client, previous), name)


def load_checked(client, params):
    """Steps 1-3 for the staged archive: checksum, load, image ID (what a wrong load added is undone)."""
    archive, image_id = params["archive"], params["image_id"]
    verify_archive(params)
    names_before = {name: item.id for item in client.images.list() for name in item.tags}
    ids_before = {item.id for item in client.images.list(all=True)}
    loaded = load_archive(client, archive)
    if image_id not in [loaded_id for _name, loaded_id in loaded]:
        undo_load(client, loaded, names_before, ids_before)
        os.remove(archive)
        raise DuoError(
            "archive={0!r} loaded as {1}, not {2} as the bundle manifest says. What it loaded was removed, names it "
            "took were given back, and the staged archive was removed. Fix: rebuild the bundle (its manifest does "
            "not match its archive; {3} checks the bundle) and carry it in again.".format(
                archive, ", ".join("{0} ({1})".format(name, found) for name, found in loaded) or "nothing",
                image_id, VERIFY_FIX), field="image_id", loaded=False)


def image_lock(params, check_mode):
    """One run at a time per image on this host (none in check mode, which changes nothing)."""
    if check_mode:
        return contextlib.nullcontext()
    return held(os.path.join(lock_directory(), "image-{0}.lock".format(params["image_id"][len("sha256:"):][:16])),
                "the image " + params["image"], params["lock_timeout"])


def _describe(reference, image_id):
    return {"image": reference, "names": image_id, "present": image_id is not None}


def ensure(params, check_mode=False):
    """The gateway_image module's answer (see the module's documentation)."""
    check_params(params)
    reference, image_id, archive = params["image"], params["image_id"], params["archive"]
    client = docker_client(params["docker_host"], timeout=params["load_timeout"])
    with image_lock(params, check_mode):
        before = named(client, reference)
        result = dict(changed=False, image=reference, image_id=image_id, present=False, needs_archive=False,
                      loaded=False, tagged=False, archive_removed=False)
        staged = archive is not None and os.path.isfile(archive)
        image = find(client, image_id)
        if image is not None:
            result["present"] = True
        elif not staged:
            result["needs_archive"] = True
            result["changed"] = check_mode  # it will be copied and loaded; a real run's load call reports that
            if archive is not None:
                result["free_bytes"] = check_room(archive, params["size"])
            result["msg"] = "{0} ({1}) is not on this host: its archive must be copied{2} and loaded".format(
                reference, image_id, " from " + params["bundle_archive"] if params["bundle_archive"] else "")
            result["diff"] = dict(before=_describe(reference, before), after=dict(
                _describe(reference, image_id), copy=params["bundle_archive"] or "the archive", to=archive,
                bytes=params["size"]))
            return result
        else:
            result["changed"] = result["loaded"] = True
            result["diff"] = dict(before=_describe(reference, before), after=dict(
                _describe(reference, image_id), load=archive, bytes=params["size"]))
            if check_mode:
                result["msg"] = "would check {0} and load it as {1}".format(archive, reference)
                return result
            load_checked(client, params)
            image = find(client, image_id)
        # Asked through the engine, which reads docker.io/library/nginx:1.27 as the nginx:1.27 it lists in tags.
        if named(client, reference) != image.id:
            result["changed"] = result["tagged"] = True
            if not check_mode:
                tag(image, reference)
        if staged:
            result["changed"] = result["archive_removed"] = True
            if not check_mode:
                os.remove(archive)
        if "diff" not in result:
            result["diff"] = dict(before=_describe(reference, before), after=_describe(reference, image_id))
        result["msg"] = "{0} is {1}".format(reference, "loaded" if result["loaded"] else "named" if result["tagged"]
                                            else "present")
        return result
