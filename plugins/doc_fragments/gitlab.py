# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # How a module reaches a GitLab instance through its API (module_utils/_gitlab/options.py API_OPTIONS);
    # modules that use it also take gitlab_duo.self_hosted.http_options.
    DOCUMENTATION = r"""
options:
  api_url:
    description: URL of the GitLab instance, for its REST and GraphQL APIs (used with O(api_token)).
    type: str
  api_token:
    description:
      - A GitLab personal access token. With it the module uses the API and boots no Rails.
    type: str
"""

    # RAILS_COMMAND_OPTION
    RAILS = r"""
options:
  rails_command:
    description:
      - The command that runs C(gitlab-rails) on this host, as a list. V([gitlab-rails]) on Omnibus;
        V([docker, exec, -i, gitlab, gitlab-rails]) for GitLab in Docker;
        V([kubectl, exec, -i, -n, gitlab, deploy/gitlab-toolbox, --, gitlab-rails]) in Kubernetes.
    type: list
    elements: str
    default: [gitlab-rails]
"""

    # VERSION_FILE_OPTION
    VERSION_FILE = r"""
options:
  version_file:
    description:
      - GitLab's version file (Omnibus path by default).
      - Read on this host, or inside GitLab's container or pod when O(rails_command) enters one (everything
        before its last element is used as the prefix, as in C(docker exec -i gitlab cat <file>)). No Rails boot.
    type: path
    default: /opt/gitlab/embedded/service/gitlab-rails/VERSION
"""

    # GITLAB_VERSION_OPTION
    VERSION = r"""
options:
  gitlab_version:
    description:
      - The instance's GitLab version as GitLab reports it (V(18.2.1-ee), V(v18.2.1-ee) or V(18.2.1)).
      - Modules that run on the GitLab host read it from their C(version_file) when it is omitted.
    type: str
"""

    # RAKE_COMMAND_OPTION and VERIFY_USER_OPTION: GitLab's gitlab:duo:verify_self_hosted_setup task.
    RAKE = r"""
options:
  rake_command:
    description: The command that runs C(gitlab-rake), as a list (e.g. V([docker, exec, gitlab, gitlab-rake])).
    type: list
    elements: str
    default: [gitlab-rake]
  user:
    description: A user with a Duo seat whose access is checked (passed to the verify task); GitLab uses root when omitted.
    type: str
"""

    # INSTANCE_URL_OPTION: the instance a gateway serves, as the gateway must call it.
    INSTANCE_URL = r"""
options:
  gitlab_url:
    description: URL of the GitLab instance the gateway serves (the gateway's C(AIGW_GITLAB_URL)).
    type: str
"""

    # ROUND_TRIP_OPTION: the model a round trip through GitLab's own AI gateway client asks.
    ROUND_TRIP = r"""
options:
  round_trip:
    description:
      - The model to ask for an answer through GitLab's own AI Gateway client (C(Gitlab::Llm::AiGateway::Client)),
        in the module's one Rails call.
      - The key goes to the runner on standard input, never on its command line, so O(rails_command) must keep
        standard input attached (C(docker exec -i), C(kubectl exec -i)).
    type: dict
    suboptions:
      model:
        description: The model name, as set up in GitLab (C(mistral), C(llama3), ...).
        type: str
        required: true
      model_endpoint:
        description: The model's endpoint (an OpenAI-compatible server ends in C(/v1)).
        type: str
      model_api_key:
        description: The model's API key, when its endpoint needs one.
        type: str
"""
