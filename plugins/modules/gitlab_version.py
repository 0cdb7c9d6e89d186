#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gitlab_version
short_description: Detect the version of a GitLab instance
version_added: 0.1.0
description:
  - Asks the GitLab API (C(/api/v4/version), then C(/api/v4/metadata)) when O(api_token) is given, else
    reads the version file GitLab installs on its host, or inside GitLab's container or pod when
    O(rails_command) enters one (C(docker exec -i gitlab cat <file>)). Neither boots Rails.
  - The gateway image tag must track this version (see M(gitlab_duo.self_hosted.gateway_release)).
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes.read_only
  - gitlab_duo.self_hosted.gitlab
  - gitlab_duo.self_hosted.gitlab.rails
  - gitlab_duo.self_hosted.gitlab.version_file
  - gitlab_duo.self_hosted.http_options
notes:
  - The API needs a token with the C(read_user) or C(ai_features) scope.
  - O(rails_command) is only used for its prefix (everything before C(gitlab-rails)), to read O(version_file)
    where GitLab runs; C(gitlab-rails) itself is never started.
"""

EXAMPLES = r"""
- name: On the GitLab host (Omnibus)
  gitlab_duo.self_hosted.gitlab_version:
  register: gitlab

- name: From the control node, through the API
  gitlab_duo.self_hosted.gitlab_version:
    api_url: https://gitlab.example.com
    api_token: "{{ vault_gitlab_read_token }}"
  delegate_to: localhost

- name: GitLab in Docker on this host (the file is read inside the container)
  gitlab_duo.self_hosted.gitlab_version:
    rails_command: [docker, exec, -i, gitlab, gitlab-rails]

- name: GitLab on Kubernetes (the toolbox pod of the Helm chart keeps its version elsewhere)
  gitlab_duo.self_hosted.gitlab_version:
    rails_command: [kubectl, exec, -i, -n, gitlab, deploy/gitlab-toolbox, --, gitlab-rails]
    version_file: /srv/gitlab/VERSION
"""

RETURN = r"""
version:
  description: The version as GitLab reports it.
  returned: success
  type: str
  sample: 18.2.1-ee
normalized:
  description: MAJOR.MINOR.PATCH.
  returned: success
  type: str
  sample: 18.2.1
major:
  description: Major version.
  returned: success
  type: int
minor:
  description: Minor version.
  returned: success
  type: int
patch:
  description: Patch version.
  returned: success
  type: int
edition:
  description: V(ee) or V(ce).
  returned: success
  type: str
source:
  description: Where the version came from (C(api:/api/v4/version), C(file:<path>), C(file:<path> via <prefix>)).
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.options import (
    GITLAB_REQUIRED_TOGETHER, gitlab_argument_spec)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import report


def main():
    module = AnsibleModule(argument_spec=gitlab_argument_spec(), required_together=GITLAB_REQUIRED_TOGETHER,
                           supports_check_mode=True)
    respond(module, report, module.params, module.run_command)


if __name__ == "__main__":
    main()
