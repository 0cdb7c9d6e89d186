#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gitlab_settings_snapshot
short_description: Remember a GitLab instance's AI settings between runs, so values a GitLab upgrade clears come back
version_added: 0.1.0
description:
  - Runs on the control node. Keeps one file per GitLab instance, C(<snapshot_dir>/<instance>.json) (JSON, mode
    0600, directory 0700), with the instance's C(ai_gateway_url), C(ai_gateway_timeout_seconds) and
    C(duo_agent_platform_service_url) as GitLab held them and the GitLab version they were read at.
  - GitLab 19.2 moves these settings to the application settings and copies nothing (migration
    C(AddAiInfrastructureColumnsToApplicationSettings)), so an upgraded instance loses them, also values set by hand.
    Give the snapshot read here to M(gitlab_duo.self_hosted.gitlab_ai_settings) (O(gitlab_duo.self_hosted.gitlab_ai_settings#module:remembered))
    and it sets again each remembered value that is unset now, when GitLab's version changed since.
  - O(state=read) returns the snapshot (null when there is none) and changes nothing. O(state=present) records
    O(settings) at O(gitlab_version); the file is replaced as a whole (a killed run leaves the old or the new one) and
    only when the settings or the version differ, so a rerun changes nothing.
  - A file at the path that is not a snapshot (a symlink, a directory, not JSON, another shape) fails naming the file.
  - Instance names with other characters than letters, digits, C(_), C(.) and C(-) get them replaced and a short hash
    of the name appended, so two instances never share a file.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes
attributes:
  check_mode:
    support: full
    details: O(state=present) says whether it would write, and writes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  snapshot_dir:
    description: Directory on the control node for the snapshots (created, mode 0700, when missing). An absolute path.
    type: path
    required: true
  instance:
    description: The GitLab instance's inventory name.
    type: str
    required: true
  state:
    description: V(read) the snapshot, or record one (V(present)).
    type: str
    choices: [read, present]
    default: read
  settings:
    description:
      - O(state=present) - the instance's settings now, as M(gitlab_duo.self_hosted.gitlab_ai_settings) returns them
        (C(settings)) - any of C(ai_gateway_url), C(ai_gateway_timeout_seconds), C(duo_agent_platform_service_url).
    type: dict
    default: {}
  gitlab_version:
    description: O(state=present) - the GitLab version the settings were read at (e.g. C(18.10.0-ee)). Required then.
    type: str
"""

EXAMPLES = r"""
- name: Read what an earlier run remembered
  gitlab_duo.self_hosted.gitlab_settings_snapshot:
    snapshot_dir: /var/lib/gitlab-duo/settings
    instance: gitlab.example.com
  delegate_to: localhost
  register: remembered

- name: Point GitLab at its gateway and set again what an upgrade cleared
  gitlab_duo.self_hosted.gitlab_ai_settings:
    ai_gateway_url: https://ai-gateway.example.com
    remembered: "{{ remembered.snapshot or omit }}"
  register: settings

- name: Remember the settings for the next run
  gitlab_duo.self_hosted.gitlab_settings_snapshot:
    snapshot_dir: /var/lib/gitlab-duo/settings
    instance: gitlab.example.com
    state: present
    settings: "{{ settings.settings }}"
    gitlab_version: 19.2.0-ee
  delegate_to: localhost
"""

RETURN = r"""
path:
  description: The snapshot's file.
  returned: success
  type: str
  sample: /var/lib/gitlab-duo/settings/gitlab.example.com.json
snapshot:
  description:
    - The snapshot (after recording, with O(state=present)) - C(format), C(instance), C(gitlab_version) (as
      C(MAJOR.MINOR.PATCH)), C(settings), C(recorded_at) (UTC) and C(source) (the file); null when there is none.
  returned: success
  type: dict
  sample: {"format": 1, "instance": "gitlab.example.com", "gitlab_version": "18.10.0",
           "settings": {"ai_gateway_url": "https://ai-gateway.example.com", "ai_gateway_timeout_seconds": 300,
                        "duo_agent_platform_service_url": "ai-gateway.example.com:50052"},
           "recorded_at": "2026-11-24T10:00:00+00:00",
           "source": "/var/lib/gitlab-duo/settings/gitlab.example.com.json"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.settings_snapshot import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            snapshot_dir=dict(type="path", required=True),
            instance=dict(type="str", required=True),
            state=dict(type="str", default="read", choices=["read", "present"]),
            settings=dict(type="dict", default={}),
            gitlab_version=dict(type="str"),
        ),
        required_if=[("state", "present", ("gitlab_version",))],
        supports_check_mode=True,
    )
    respond(module, run, module.params, module.check_mode)


if __name__ == "__main__":
    main()
