# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which GitLab version an instance runs (private to gitlab_duo.self_hosted).

From the API (``/api/v4/version``, then ``/api/v4/metadata``; both need a token) or, on the
GitLab host, from the version file Omnibus installs.
"""

from __future__ import annotations

import os

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._versions import parse_gitlab_version

OMNIBUS_VERSION_FILE = "/opt/gitlab/embedded/service/gitlab-rails/VERSION"


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


def given_or_installed(given, version_file=OMNIBUS_VERSION_FILE, why="", fix=""):
    """GitLabVersion from ``given`` (a module's gitlab_version) or else the version file on this host."""
    if given:
        return parse_gitlab_version(given, field="gitlab_version")
    try:
        raw, _source = from_file(version_file)
    except OSError:
        raise DuoError("gitlab_version is not given and {0} cannot be read{1}. Fix: set gitlab_version (see "
                       "gitlab_duo.self_hosted.gitlab_version), or version_file{2}.".format(version_file, why, fix),
                       field="gitlab_version")
    return parse_gitlab_version(raw, field=version_file)


def detect(api=None, version_file=OMNIBUS_VERSION_FILE):
    """(raw version, source, GitLabVersion) or DuoError naming both ways tried."""
    problems = []
    if api is not None:
        try:
            raw, source = from_api(api)
            return raw, source, parse_gitlab_version(raw, field="GitLab API version")
        except DuoError as exc:
            problems.append(exc.msg)
    if version_file and os.path.isfile(version_file):
        raw, source = from_file(version_file)
        return raw, source, parse_gitlab_version(raw, field=version_file)
    problems.append("no version file at {0}".format(version_file))
    if api is None:
        problems.append("no api_token given for the API")
    raise DuoError("Cannot tell the GitLab version: {0}. Fix: give api_url and an api_token with the read_user "
                   "or ai_features scope, run on the GitLab (Omnibus) host, or set version_file or "
                   "gitlab_version.".format("; ".join(problems)))
