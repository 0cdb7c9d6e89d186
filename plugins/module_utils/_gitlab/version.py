# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which GitLab version an instance runs (private to gitlab_duo.self_hosted).

From the API (``/api/v4/version``, then ``/api/v4/metadata``; both need a token) or, on the
GitLab host, from the version file Omnibus installs. When GitLab runs in a container or pod, the file is read
through the same command that reaches ``gitlab-rails`` there (``docker exec -i gitlab cat <file>``), which
costs no Rails boot.
"""

from __future__ import annotations

import re
from collections import namedtuple

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.api import api_client

OMNIBUS_VERSION_FILE = "/opt/gitlab/embedded/service/gitlab-rails/VERSION"

GitLabVersion = namedtuple("GitLabVersion", "major minor patch edition")

_GITLAB_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-(ee|ce))?(?:\.\d+)?$")


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


def from_api(api):
    problems = []
    for path in ("/api/v4/version", "/api/v4/metadata"):
        try:
            body = api.get(path)
        except DuoError as exc:
            problems.append(exc.msg)
            continue
        if body.get("version"):
            return body["version"], "api:" + path
        problems.append("{0} has no version field".format(path))
    raise DuoError("The GitLab API did not give its version: " + " | ".join(problems))


def from_file(path):
    with open(path) as handle:
        return handle.read().strip(), "file:" + path


def exec_prefix(rails_command):
    """The part of ``rails_command`` before ``gitlab-rails`` (``docker exec -i gitlab``); [] on Omnibus."""
    return list(rails_command[:-1]) if rails_command else []


def read_version_file(path, rails_command=None, run_command=None):
    """(raw version, source) from the version file, read through ``rails_command``'s prefix when it has one.

    OSError when it cannot be read, as for a local file.
    """
    prefix = exec_prefix(rails_command)
    if not prefix or run_command is None:
        return from_file(path)
    rc, stdout, stderr = run_command(prefix + ["cat", path])
    if rc != 0 or not stdout.strip():
        raise OSError("`{0}` gave exit code {1}: {2}".format(" ".join(prefix + ["cat", path]), rc,
                                                             (stderr or stdout).strip()[-300:]))
    return stdout.strip(), "file:{0} via {1}".format(path, " ".join(prefix))


def given_or_installed(given, version_file=OMNIBUS_VERSION_FILE, why="", fix="", rails_command=None,
                       run_command=None):
    """GitLabVersion from ``given`` (a module's gitlab_version) or else the version file on this host (inside
    GitLab's container or pod when ``rails_command`` enters one)."""
    if given:
        return parse_gitlab_version(given, field="gitlab_version")
    try:
        raw, _source = read_version_file(version_file, rails_command, run_command)
    except OSError as exc:
        raise DuoError("gitlab_version is not given and {0} cannot be read{1} ({2}). Fix: set gitlab_version (see "
                       "gitlab_duo.self_hosted.gitlab_version), or version_file{3}.".format(version_file, why, exc, fix),
                       field="gitlab_version")
    return parse_gitlab_version(raw, field=version_file)


def detect(api=None, version_file=OMNIBUS_VERSION_FILE, rails_command=None, run_command=None):
    """(raw version, source, GitLabVersion) or DuoError naming both ways tried."""
    problems = []
    if api is not None:
        try:
            raw, source = from_api(api)
            return raw, source, parse_gitlab_version(raw, field="GitLab API version")
        except DuoError as exc:
            problems.append(exc.msg)
    if version_file:
        try:
            raw, source = read_version_file(version_file, rails_command, run_command)
            return raw, source, parse_gitlab_version(raw, field=version_file)
        except OSError as exc:
            problems.append("no readable version file at {0} ({1})".format(version_file, exc))
    if api is None:
        problems.append("no api_token given for the API")
    raise DuoError("Cannot tell the GitLab version: {0}. Fix: give api_url and an api_token with the read_user "
                   "or ai_features scope, run on the GitLab host (or give the rails_command that reaches GitLab's "
                   "container), or set version_file or gitlab_version.".format("; ".join(problems)))


def report(params, run_command):
    """The gitlab_version module's answer: the raw version, where it was read, and its parts."""
    raw, source, version = detect(api_client(params), params["version_file"], params["rails_command"], run_command)
    return dict(changed=False, version=raw, normalized=format_version(version), major=version.major,
                minor=version.minor, patch=version.patch, edition=version.edition, source=source)
