#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_upgrade_plan
short_description: Say whether the AI Gateway on this host is behind, current or ahead of its GitLab instance(s)
version_added: 0.1.0
description:
  - Reads the gateway container's image (its C(Config.Image) - C(registry/repo:tag), C(registry/repo:tag@sha256:...)
    or C(repo@sha256:...)) and compares its release with O(target_tag) (or O(pinned_tag)).
  - RV(action) is V(upgrade) (the running release is older than the target), V(current) (the same release),
    V(ahead) (newer - reported, never downgraded silently), V(skew) (the gateway serves instances whose
    major.minor differ and no tag is pinned - left alone), V(not_installed) (no container - run install.yml) or
    V(unknown) (the running tag is no C(self-hosted-vX.Y.Z-ee) release - digest only, nightly, latest; RV(why) says
    what to do).
  - Without O(target_tag) and O(pinned_tag) it only reads the image - RV(action) is V(not_installed), V(skew),
    V(unknown) or null (the skew report uses it so).
  - With O(expected_users), also how many gateways GitLab's sizing figures call for (about 7 requests/s per 1000
    active users; about 40 concurrent requests per 2 vCPU / 8 GB gateway; requests/s times O(request_seconds) in
    flight each gives the concurrent requests), with a warning when O(pool_size) is smaller.
  - Reads only; never changes anything.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.docker
  - gitlab_duo.self_hosted.docker.gateway
  - gitlab_duo.self_hosted.attributes.read_only
options:
  target_tag:
    description:
      - The release the gateway should run - the tag gateway_release chose for the served instance's GitLab version.
      - Must be a C(self-hosted-vX.Y.Z-ee) tag.
    type: str
  instance_versions:
    description:
      - Every GitLab instance the gateway serves - C(instance) (its name) and C(version) as GitLab reports it
        (V(18.2.1-ee)). Instances whose major.minor differ make RV(action=skew) unless O(pinned_tag) is given.
    type: list
    elements: dict
    default: []
  pinned_tag:
    description:
      - The tag pinned with C(ai_gateway_image_tag); replaces O(target_tag) and wins over skew.
      - Must be a C(self-hosted-vX.Y.Z-ee) tag.
    type: str
  expected_users:
    description:
      - Active (billable) Duo users the instance expects (C(ai_gateway_expected_users)); adds RV(sizing).
    type: int
  pool_size:
    description: How many gateways serve the instance; C(sizing.warning) when fewer than needed.
    type: int
  request_seconds:
    description:
      - Seconds one request is in flight, for the sizing - GitLab's docs give none; the default is GitLab's default
        C(ai_gateway_timeout_seconds), the longest a request may stream (an upper bound).
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Is this gateway behind its instance?
  gitlab_duo.self_hosted.gateway_upgrade_plan:
    target_tag: "{{ release.tag }}"
    instance_versions:
      - instance: gitlab.example.com
        version: "{{ hostvars['gitlab.example.com'].gitlab_settings_detected_version }}"
    expected_users: 1200
    pool_size: 2
  register: gateway_plan

- name: Only read what runs (the skew report)
  gitlab_duo.self_hosted.gateway_upgrade_plan:
    name: gitlab-ai-gateway
  register: gateway_running
"""

RETURN = r"""
action:
  description:
    - V(upgrade), V(current), V(ahead), V(skew), V(not_installed) or V(unknown); null when neither O(target_tag)
      nor O(pinned_tag) was given and the running release is readable.
  returned: always
  type: str
  sample: upgrade
why:
  description: One sentence on the action, with the fix where one is needed.
  returned: always
  type: str
  sample: it runs self-hosted-v18.2.10-ee, older than self-hosted-v18.3.0-ee (the target)
current_image:
  description: The container's C(Config.Image); null without a container.
  returned: always
  type: str
  sample: registry.gitlab.com/gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway:self-hosted-v18.2.10-ee@sha256:4f1c...
current_tag:
  description: The tag of RV(current_image) (also when a digest pins it); null for a digest alone or no container.
  returned: always
  type: str
  sample: self-hosted-v18.2.10-ee
target_tag:
  description: The release compared with (O(pinned_tag) or O(target_tag)); null for V(skew).
  returned: always
  type: str
  sample: self-hosted-v18.3.0-ee
container_exists:
  description: Whether the container O(name) exists (running or not).
  returned: always
  type: bool
sizing:
  description:
    - users, requests_per_second, concurrent (requests in flight, rounded up), gateways (at least 1),
      request_seconds, basis (the arithmetic in words), pool_size, and warning when O(pool_size) is smaller than
      gateways.
  returned: when O(expected_users) is given
  type: dict
  sample: {"users": 1000, "requests_per_second": 7.0, "concurrent": 420, "gateways": 11, "request_seconds": 60,
           "pool_size": 2, "warning": "2 gateway(s) serve this instance, fewer than the 11 ..."}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import DOCKER_HOST_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.container import GATEWAY_NAME_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.upgrade import (
    DEFAULT_REQUEST_SECONDS, plan)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=GATEWAY_NAME_OPTION,
            target_tag=dict(type="str"),
            instance_versions=dict(type="list", elements="dict", default=[]),
            pinned_tag=dict(type="str"),
            expected_users=dict(type="int"),
            pool_size=dict(type="int"),
            request_seconds=dict(type="int", default=DEFAULT_REQUEST_SECONDS),
            docker_host=DOCKER_HOST_OPTION,
        ),
        supports_check_mode=True,
    )
    respond(module, plan, module.params)


if __name__ == "__main__":
    main()
