# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options every GitLab-facing module shares (private to gitlab_duo.self_hosted);
documented in the doc fragment gitlab_duo.self_hosted.gitlab."""

from __future__ import annotations

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab_api import GitLabApi
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab_version import OMNIBUS_VERSION_FILE
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._rails import OMNIBUS_RAILS


def gitlab_argument_spec(**extra):
    spec = dict(
        api_url=dict(type="str"),
        api_token=dict(type="str", no_log=True),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="int", default=30),
        rails_command=dict(type="list", elements="str", default=list(OMNIBUS_RAILS)),
        version_file=dict(type="path", default=OMNIBUS_VERSION_FILE),
    )
    spec.update(extra)
    return spec


GITLAB_REQUIRED_TOGETHER = [("api_url", "api_token")]


def api_client(params):
    """A GitLabApi when a token is given, else None."""
    if not params.get("api_token"):
        return None
    verify = (params["ca_path"] or True) if params["validate_certs"] else False
    return GitLabApi(params["api_url"], params["api_token"], verify=verify, timeout=params["timeout"])
