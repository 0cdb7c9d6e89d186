# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of GitLab-facing modules, declared once (private to gitlab_duo.self_hosted); documented in the
doc fragment gitlab_duo.self_hosted.gitlab and its sub-fragments."""

from __future__ import annotations

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.rails import OMNIBUS_RAILS
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import OMNIBUS_VERSION_FILE
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import HTTP_OPTIONS

# How gitlab-rails / gitlab-rake are reached (Omnibus, docker exec, kubectl exec): fragment gitlab.rails / gitlab.rake.
RAILS_COMMAND_OPTION = dict(type="list", elements="str", default=list(OMNIBUS_RAILS))
RAKE_COMMAND_OPTION = dict(type="list", elements="str", default=["gitlab-rake"])
# Fragment gitlab.version_file.
VERSION_FILE_OPTION = dict(type="path", default=OMNIBUS_VERSION_FILE)
# The instance's GitLab version when the caller knows it (read from the host otherwise): fragment gitlab.version.
GITLAB_VERSION_OPTION = dict(type="str")
# Who the verify task and the access check look at (fragment gitlab.rake).
VERIFY_USER_OPTION = dict(type="str")
# The instance a gateway serves, as the gateway calls it (fragment gitlab.instance_url).
INSTANCE_URL_OPTION = dict(type="str")
# The model a round trip through GitLab's AI gateway client asks (fragment gitlab.round_trip).
ROUND_TRIP_OPTION = dict(type="dict", options=dict(
    model=dict(type="str", required=True),
    model_endpoint=dict(type="str"),
    model_api_key=dict(type="str", no_log=True),
))
API_OPTIONS = dict(api_url=dict(type="str"), api_token=dict(type="str", no_log=True))


def gitlab_argument_spec(**extra):
    """The API and gitlab-rails options of a module that can use either (fragment gitlab), plus ``extra``."""
    spec = dict(API_OPTIONS, rails_command=RAILS_COMMAND_OPTION, version_file=VERSION_FILE_OPTION, **HTTP_OPTIONS)
    spec.update(extra)
    return spec


GITLAB_REQUIRED_TOGETHER = [("api_url", "api_token")]
