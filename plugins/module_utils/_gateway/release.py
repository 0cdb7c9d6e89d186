# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything about AI Gateway release tags (private to gitlab_duo.self_hosted): parse, choose for a GitLab
version, honour a pin, refuse nightly/latest/rc, and build the image reference (pinned to the digest the registry
gave for the tag).

A gateway release for GitLab vX.Y.Z is the newest ``self-hosted-vX.Y.*-ee`` tag: the ``.0`` is cut with GitLab's
X.Y.0, later patch numbers are the gateway's own.
"""

from __future__ import annotations

import re

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import image_tag
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.registry import (
    RegistryClient, image_reference)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import (
    format_version, parse_gitlab_version)

_RELEASE_TAG = re.compile(r"^self-hosted-v(\d+)\.(\d+)\.(\d+)-ee$")
# Built from the main branch, not backward compatible: never run against a GitLab release.
MOVING_TAGS = ("latest", "nightly")


def release_tag_version(tag):
    """(major, minor, patch) of a ``self-hosted-vX.Y.Z-ee`` tag; None for nightly, latest and anything else."""
    match = _RELEASE_TAG.match(tag or "")
    if not match:
        return None
    return tuple(int(part) for part in match.groups())


def release_parts(tag, field):
    """(major, minor, patch) of ``tag``; InputError naming ``field`` when it is not a release tag."""
    parts = release_tag_version(tag)
    if parts is None:
        raise InputError(field, tag, "not a self-hosted-vX.Y.Z-ee release tag (nightly and latest are not "
                         "backward compatible)", "give a release tag such as self-hosted-v18.2.2-ee")
    return parts


def running_release(image):
    """What a container's image reference (its ``Config.Image``) says about the release it runs:
    ``(tag, parts, problem)``. ``repo:tag`` and ``repo:tag@sha256:...`` give their tag, ``repo@sha256:...`` none;
    ``parts`` is (major, minor, patch) for a release tag, else None and ``problem`` says why and what to do."""
    tag = image_tag(image or "")
    parts = release_tag_version(tag)
    if parts is not None:
        return tag, parts, None
    if tag is None and "@" in (image or ""):
        problem = ("it runs {0} by digest alone, with no tag, so its release cannot be read. Fix: look the digest "
                   "up in the registry, or let install.yml run the release tag for the instance's version (it runs "
                   "repository:tag@sha256:...)".format(image))
    elif tag is None:
        problem = ("its image {0!r} has no tag (Docker reads that as latest). Fix: run the release tag for the "
                   "instance's version (install.yml does)".format(image))
    elif tag in MOVING_TAGS or tag.startswith("nightly"):
        problem = ("it runs '{0}', which is built from the main branch and not backward compatible, so it has no "
                   "release to compare. Fix: run the self-hosted-vX.Y.Z-ee tag for the instance's version "
                   "(install.yml, or pin it with ai_gateway_image_tag)".format(tag))
    else:
        problem = ("its tag {0!r} is not a self-hosted-vX.Y.Z-ee release. Fix: run the release tag for the "
                   "instance's version (install.yml, or pin it with ai_gateway_image_tag)".format(tag))
    return tag, None, problem


def release_tag(major, minor, patch):
    return "self-hosted-v{0}.{1}.{2}-ee".format(major, minor, patch)


def newest_per_minor(tags):
    """{(major, minor): newest (major, minor, patch)} over the release tags in ``tags``."""
    newest = {}
    for tag in tags:
        parts = release_tag_version(tag)
        if parts is None:
            continue
        key = parts[:2]
        if key not in newest or parts > newest[key]:
            newest[key] = parts
    return newest


def nearest_releases(version, tags, count=4):
    """The newest release of the ``count`` minors closest to ``version``, oldest first."""
    newest = newest_per_minor(tags)
    wanted = version.major * 1000 + version.minor
    closest = sorted(newest, key=lambda key: (abs(key[0] * 1000 + key[1] - wanted), key))[:count]
    return [release_tag(*newest[key]) for key in sorted(closest)]


def choose_release(version, tags, source="the registry"):
    """The newest ``self-hosted-v<major>.<minor>.*-ee`` tag among ``tags``; DuoError when none exists."""
    best = newest_per_minor(tags).get((version.major, version.minor))
    if best is None:
        nearest = nearest_releases(version, tags)
        raise DuoError(
            "No AI Gateway release for GitLab {v}: {src} has no self-hosted-v{ma}.{mi}.*-ee tag. "
            "Nearest releases: {near}. Fix: upgrade GitLab to a version that has a gateway release, "
            "or check the registry/repository (or the offline tag list) you pointed at.".format(
                v=format_version(version), src=source, ma=version.major, mi=version.minor,
                near=", ".join(nearest) if nearest else "none (no self-hosted-v*-ee tags at all)",
            ),
            nearest_tags=nearest,
        )
    return release_tag(*best)


def pinned_release(tag, version, tags):
    """``tag`` when it is a release of ``version``'s minor and exists in ``tags``; else an error naming the fix."""
    parts = release_tag_version(tag)
    if parts is None:
        raise InputError("tag", tag, "not a self-hosted-vX.Y.Z-ee release (nightly and latest are not backward "
                         "compatible)", "pin a release tag such as self-hosted-v18.2.2-ee, or omit tag to choose one")
    if parts[:2] != (version.major, version.minor):
        raise InputError("tag", tag, "does not match GitLab {0}".format(format_version(version)),
                         "pin a self-hosted-v{0}.{1}.*-ee tag, or omit tag".format(version.major, version.minor))
    if tag not in tags:
        raise DuoError("tag={0!r}: no such tag in the registry or tag list. Fix: pin a tag that exists, "
                       "or omit tag".format(tag), field="tag")
    return tag


def checked_image(image, field="image"):
    """``image`` when it carries a tag that is not a moving one (latest, nightly*); the gateway container's rule."""
    tag = image_tag(image or "")
    if not image or tag is None:
        raise InputError(field, image, "has no tag", "pin a release tag, e.g. ...model-gateway:self-hosted-v18.2.2-ee")
    if tag in MOVING_TAGS or tag.startswith("nightly"):
        raise InputError(field, image, "uses '{0}', which is built from the main branch and not backward "
                         "compatible".format(tag), "pin the self-hosted-vX.Y.Z-ee tag for your GitLab version")
    return image


def resolve(params):
    """The gateway_release module's answer: the tag for ``gitlab_version`` (pinned or chosen) from the registry
    or an offline list, its digest, and the image reference pinned to that digest when the registry gave one."""
    version = parse_gitlab_version(params["gitlab_version"])
    client = None
    if params["tags"] is not None:
        tags, source = params["tags"], "the offline tag list"
    else:
        client = RegistryClient(params["registry"], params["repository"], params["registry_username"],
                                params["registry_password"], params["validate_certs"], params["ca_path"],
                                params["timeout"])
        tags, source = client.list_tags(), "the registry {0}/{1}".format(client.host, client.repository)
    if params["tag"]:
        tag = pinned_release(params["tag"], version, tags)
    else:
        tag = choose_release(version, tags, source=source)
    digest = client.manifest_digest(tag) if client is not None else None
    return dict(changed=False, tag=tag, digest=digest, gitlab_version=format_version(version), tags_seen=len(tags),
                image=image_reference(params["registry"], params["repository"], tag),
                pinned_image=image_reference(params["registry"], params["repository"], tag, digest))
