# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the control node reads from a bundle carried into an air-gapped network (private to
gitlab_duo.self_hosted): the gateway release for a GitLab version, and any image the bundle holds, each with the
absolute path of its archive. Only the manifest is read: no registry is asked anything.

A loaded image has no registry digest to pin to, so the image reference is the name the archive loads as, and its
image ID (what ``docker image inspect`` reports after ``docker load``) is what a target compares.
"""

from __future__ import annotations

import os
import re

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import manifest
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway import release as registry_release
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import (
    format_version, parse_gitlab_version)


def build_command(versions):
    """The command that builds a bundle covering ``versions`` (on a connected machine)."""
    return ("ansible-playbook gitlab_duo.self_hosted.bundle -e bundle_dir=<a new directory> "
            "-e bundle_gitlab_versions=[{0}]".format(",".join(versions)))


def _numeric(version):
    return tuple(int(part) for part in re.findall(r"\d+", version))


def carried(bundle, image):
    """The manifest entry ``image`` as the roles use it: its keys, ``image`` its reference, and ``archive`` the
    absolute path on the control node (``archive_in_bundle`` the manifest's relative one)."""
    entry = dict(image, image=image["reference"])
    entry["archive_in_bundle"] = image["archive"]
    entry["archive"] = os.path.join(os.path.abspath(bundle), image["archive"])
    return entry


def _not_covered(bundle, data, what, fix):
    raise DuoError("bundle={0!r} has no {1}. It covers GitLab {2}. Fix: {3}".format(
        bundle, what, manifest.covered_versions(data), fix), field="bundle", covered=dict(data["gitlab_versions"]))


def release_from_bundle(params):
    """The gateway_release answer from the bundle's manifest: the newest gateway tag of the version's minor that
    the bundle holds (or the pinned ``tag``, which must be in it), its image entry and archive."""
    version = parse_gitlab_version(params["gitlab_version"])
    bundle = params["bundle_dir"]
    data = manifest.load(bundle)
    tags = manifest.gateway_tags(data)
    wanted = "GitLab {0}".format(format_version(version))
    build = "build a bundle with this version on a connected machine ({0}) and carry it in".format(
        build_command(sorted(set(data["gitlab_versions"]) | {format_version(version)}, key=_numeric)))
    if params["tag"]:
        # A pin is checked by the registry's rules first (a release tag of this minor), then against the bundle.
        if params["tag"] not in tags:
            registry_release.pinned_release(params["tag"], version, [params["tag"]])
            _not_covered(bundle, data, "gateway image {0} (ai_gateway_image_tag) for {1}".format(params["tag"], wanted),
                         build + ", or pin a tag the bundle holds ({0})".format(", ".join(tags) or "none"))
        tag = registry_release.pinned_release(params["tag"], version, tags)
    else:
        try:
            tag = registry_release.choose_release(version, tags, source="the bundle")
        except DuoError:
            _not_covered(bundle, data, "gateway image for {0} (a self-hosted-v{1}.{2}.*-ee tag)".format(
                wanted, version.major, version.minor), build)
    entry = carried(bundle, manifest.image_entry(data, "gateway", tag=tag))
    return dict(changed=False, tag=tag, digest=None, gitlab_version=format_version(version), tags_seen=len(tags),
                image=entry["reference"], pinned_image=entry["reference"], image_id=entry["image_id"],
                archive=entry["archive"], sha256=entry["sha256"], size=entry["size"], bundle_dir=os.path.abspath(bundle))


def resolve(params):
    """The gateway_release module's service: from the bundle when ``bundle_dir`` is given, else from the registry or
    the offline tag list (_gateway.release.resolve)."""
    if params.get("bundle_dir") is not None:
        return release_from_bundle(params)
    return registry_release.resolve(params)


def image_in_bundle(bundle, role, tag=None, reference=None):
    """The bundle's image of ``role`` with ``tag`` or ``reference`` (carried(): absolute archive path); a DuoError
    naming what the bundle holds for that role and the fix when it has none."""
    data = manifest.load(bundle)
    image = manifest.image_entry(data, role, tag=tag, reference=reference)
    if image is None:
        held = sorted(entry["reference"] for entry in data["images"] if entry["role"] == role)
        raise DuoError("bundle={0!r} has no {1} image {2}; it holds {3}. Fix: build a bundle that includes it "
                       "(gitlab_duo.self_hosted.bundle), or use an image the bundle holds{4}".format(
                           bundle, role, reference or tag, ", ".join(held) or "none",
                           " (tls_proxy_image)" if role == "proxy" else ""), field="bundle")
    return carried(bundle, image)
