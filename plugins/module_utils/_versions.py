# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GitLab versions and AI Gateway release tags (private to gitlab_duo.self_hosted).

A gateway release for GitLab vX.Y.Z is the newest ``self-hosted-vX.Y.*-ee`` tag: the
``.0`` is cut with GitLab's X.Y.0, later patch numbers are the gateway's own.
"""

from __future__ import annotations

import re
from collections import namedtuple

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError

GitLabVersion = namedtuple("GitLabVersion", "major minor patch edition")

_GITLAB_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-(ee|ce))?(?:\.\d+)?$")
_RELEASE_TAG = re.compile(r"^self-hosted-v(\d+)\.(\d+)\.(\d+)-ee$")


def parse_gitlab_version(text, field="gitlab_version"):
    """Parse ``18.2.1-ee``, ``v18.2.1-ee`` or ``18.2.1`` (surrounding whitespace allowed)."""
    raw = "" if text is None else str(text).strip()
    match = _GITLAB_VERSION.match(raw)
    if not match:
        raise InputError(
            field, text, "not a GitLab version",
            "give MAJOR.MINOR.PATCH as GitLab reports it, e.g. 18.2.1-ee, v18.2.1-ee or 18.2.1",
        )
    major, minor, patch, edition = match.groups()
    return GitLabVersion(int(major), int(minor), int(patch), edition or "ee")


def format_version(version):
    return "{0}.{1}.{2}".format(version.major, version.minor, version.patch)


def release_tag_version(tag):
    """(major, minor, patch) of a ``self-hosted-vX.Y.Z-ee`` tag; None for nightly, latest and anything else."""
    match = _RELEASE_TAG.match(tag or "")
    if not match:
        return None
    return tuple(int(part) for part in match.groups())


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
