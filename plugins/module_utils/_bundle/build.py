# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building the air-gap bundle (private to gitlab_duo.self_hosted): one image archive kept or fetched (the
bundle_image service) and the manifest written from what the build's steps report (the bundle_manifest service).

A rebuild asks the registry one question per image (its manifest digest) and fetches an image only when that
digest, the name it loads as or its platform changed, or when its archive is missing or no longer matches the
manifest. The manifest is the last thing written, atomically, and rewritten only when what it says changed.
"""

from __future__ import annotations

import datetime
import json
import os

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import manifest
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.images import (
    DEFAULT_PLATFORM, cert_dir, fetch_image, parse_source, platform_options, registry_auth, registry_digest)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.release import checked_image

# What an image entry of the manifest holds (bundle_image returns it; bundle_manifest takes a list of them).
IMAGE_KEYS = ("role", "source", "reference", "repository", "tag", "image_id", "digest", "platform", "archive",
              "sha256", "size", "gitlab_versions")


def why_fetch(old, digest, reference, platform, path):
    """Why the image must be fetched again, or None when the archive the manifest records is still right: same
    registry digest, same name and platform, the archive present with the recorded sha256 and size."""
    if old is None:
        return "not in the bundle yet"
    if old.get("digest") != digest:
        return "the registry's digest changed ({0} -> {1})".format(old.get("digest"), digest)
    if old.get("reference") != reference:
        return "it loads as {0} now, not {1}".format(reference, old.get("reference"))
    if old.get("platform") != platform:
        return "the platform changed ({0} -> {1})".format(old.get("platform"), platform)
    if not os.path.isfile(path):
        return "its archive is missing"
    if manifest.sha256_file(path) != (old.get("sha256"), old.get("size")):
        return "its archive does not match the manifest's sha256 (changed or damaged)"
    return None


def _summary(image):
    return {key: image.get(key) for key in ("reference", "digest", "image_id", "platform")} if image else {}


def ensure_image(params, check_mode):
    """The bundle_image module's answer: the image's manifest entry, fetched into ``images/`` only when it changed."""
    bundle, role = params["bundle_dir"], params["role"]
    source = parse_source(params["source"])
    reference = (params["reference"] or source["name"]).strip()
    target = parse_source(reference, "reference")
    if "://" in reference:
        raise InputError("reference", reference, "has a scheme", "give the name the image loads as, host/repo:tag")
    if role == "gateway":
        checked_image(reference, "reference")
    platform = params["platform"] or DEFAULT_PLATFORM
    platform_options(platform)
    archive = manifest.archive_name(target["repository"], target["tag"])
    data, _problem = manifest.previous(bundle)
    old = next((image for image in (data or {}).get("images", []) if image["archive"] == archive), None)
    tls_verify = params["validate_certs"] and not source["insecure"]
    entry = dict(role=role, source=source["name"], reference=reference, repository=target["repository"],
                 tag=target["tag"], platform=platform, archive=archive,
                 gitlab_versions=sorted(params["gitlab_versions"]))
    with registry_auth(source["host"], params["registry_username"], params["registry_password"]) as (auth, fds):
        with cert_dir(params["ca_path"]) as certs:
            entry["digest"] = registry_digest(source["name"], tls_verify, auth, certs, pass_fds=fds)
            reason = why_fetch(old, entry["digest"], reference, platform, os.path.join(bundle, archive))
            if reason is None:
                entry.update(image_id=old["image_id"], sha256=old["sha256"], size=old["size"])
            elif check_mode:
                entry["pending"] = True
            else:
                # A kill from here on leaves the previous archive or none under the final name (written beside,
                # renamed at the end) and the previous manifest; the next run fetches again.
                fetched = fetch_image(source["name"], os.path.join(bundle, archive), reference, tls_verify, auth,
                                      certs, platform, digest=entry["digest"], pass_fds=fds)
                entry.update(image_id=fetched["image_id"], sha256=fetched["sha256"], size=fetched["size"])
    return dict(changed=reason is not None, fetched=reason is not None and not check_mode,
                reason=reason or "unchanged (same digest, archive matches the manifest)", image=entry,
                diff=dict(before=_summary(old), after=_summary(entry)))


def _image_entries(images):
    """The manifest's image entries from bundle_image results, each once per archive."""
    entries, archives = [], set()
    for index, image in enumerate(images):
        missing = [key for key in IMAGE_KEYS if key not in image]
        if missing:
            raise InputError("images[{0}]".format(index), image.get("reference"), "lacks {0}".format(
                ", ".join(missing)), "pass the 'image' that gitlab_duo.self_hosted.bundle_image returned")
        if image["archive"] in archives:
            raise InputError("images", image["archive"], "is named twice", "list each image once")
        archives.add(image["archive"])
        entries.append({key: image[key] for key in IMAGE_KEYS})
    return sorted(entries, key=lambda image: (image["role"], image["reference"]))


def _gitlab_versions(images):
    """{GitLab version: gateway tag} from the gateway images' ``gitlab_versions``."""
    versions = {}
    for image in images:
        for version in image["gitlab_versions"] if image["role"] == "gateway" else ():
            if versions.setdefault(version, image["tag"]) != image["tag"]:
                raise InputError("images", version, "is claimed by {0} and {1}".format(versions[version], image["tag"]),
                                 "give each GitLab version to one gateway image")
    return versions


def _parts(params):
    """(collection entry, wheels entries, hashes the steps computed) from the collection and wheels results."""
    known = {}
    collection = dict(params["collection"] or {})
    if collection:
        if not all(collection.get(key) for key in ("name", "version", "file", "sha256")):
            raise InputError("collection", collection.get("file"), "is not what bundle_collection returned",
                             "pass the 'collection' that gitlab_duo.self_hosted.bundle_collection returned")
        known[collection["file"]] = dict(sha256=collection.pop("sha256"), size=collection.pop("size", None))
    wheels = {}
    for name, wheel_set in sorted((params["wheels"] or {}).items()):
        wheel_set = dict(wheel_set)
        files = wheel_set.pop("files", None)
        if not isinstance(files, dict):
            raise InputError("wheels.{0}".format(name), wheel_set.get("directory"), "has no files",
                             "pass the 'wheels' and 'files' that gitlab_duo.self_hosted.bundle_wheels returned")
        known.update(files)
        wheels[name] = wheel_set
    return collection, wheels, known


def _text(data):
    return json.dumps({key: value for key, value in (data or {}).items() if key != "created"}, indent=2,
                      sort_keys=True) + "\n" if data else ""


def _remove(bundle, paths):
    """Remove ``paths`` (relative) and the managed folders that are left empty."""
    for relative in paths:
        os.remove(os.path.join(bundle, relative))
    for folder in sorted({os.path.dirname(relative) for relative in paths}, key=len, reverse=True):
        while folder and manifest.managed(folder + "/x") and not os.listdir(os.path.join(bundle, folder)):
            os.rmdir(os.path.join(bundle, folder))
            folder = os.path.dirname(folder)


def _stale(bundle, owned):
    """(files under the build's folders that no step reported, files outside them) of the bundle as it is."""
    present = manifest.bundle_files(bundle) if os.path.isdir(bundle) else []
    return ([relative for relative in present if manifest.managed(relative) and relative not in owned],
            [relative for relative in present if not manifest.managed(relative)])


def assemble(params, check_mode):
    """The bundle_manifest module's answer: the manifest of what the build's steps reported, written when its
    content (``created`` aside) changed; files under the build's folders that no step reported are removed."""
    bundle = params["bundle_dir"]
    old, problem = manifest.previous(bundle)
    pending = [image.get("reference") for image in params["images"] if image.get("pending")]
    if pending:
        if not check_mode:
            raise InputError("images", pending, "were not fetched (check mode results)", "run without --check")
        known = _parts(params)[2]
        stale, unmanaged = _stale(bundle, set(known) | {image.get("archive") for image in params["images"]})
        return dict(changed=True, pending=pending, removed=stale, unmanaged=unmanaged, manifest=old,
                    manifest_path=os.path.join(bundle, manifest.MANIFEST_NAME))
    images = _image_entries(params["images"])
    collection, wheels, known = _parts(params)
    known.update({image["archive"]: dict(sha256=image["sha256"], size=image["size"]) for image in images})
    if check_mode:
        # The steps reported what their files would be; they are not in place yet.
        files = {relative: dict(sha256=entry["sha256"], size=entry["size"]) for relative, entry in known.items()}
    else:
        files = manifest.file_entries(bundle, paths=set(known), computed=known)
    data = dict(format=manifest.FORMAT, collection=collection, gitlab_versions=_gitlab_versions(images),
                images=images, wheels=wheels, files=files,
                created=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat())
    manifest.validate(bundle, data)
    rewrite = not manifest.same_content(old, data)
    if not rewrite:
        data["created"] = old["created"]
    stale, unmanaged = _stale(bundle, set(known))
    path = os.path.join(bundle, manifest.MANIFEST_NAME)
    if not check_mode:
        # The manifest first, then the removals: a kill between them leaves a manifest whose every file is in
        # place (verify names the leftovers) and the next run removes them.
        if rewrite:
            manifest.write(bundle, data)
        _remove(bundle, stale)
    warnings = ["{0} in the bundle is not the build's: verify reports it until it is removed".format(relative)
                for relative in unmanaged]
    if problem:
        warnings.append("the previous manifest was not used ({0}); every image was checked anew".format(problem))
    return dict(changed=rewrite or bool(stale), manifest_path=path, manifest=data, removed=stale,
                unmanaged=unmanaged, warnings=warnings,
                diff=dict(before=_text(old), after=_text(data), before_header=path, after_header=path))
