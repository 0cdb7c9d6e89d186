#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: troubleshoot_report
short_description: Write the troubleshooting report - per GitLab instance and for the fleet, Markdown and JSON
version_added: 0.1.0
description:
  - Groups the findings of each GitLab instance and of the gateways that serve it, orders them by severity, and
    writes C(<instance>.md), C(<instance>.json), C(fleet.md) and C(fleet.json) to O(report_dir).
  - Every string is redacted on the way out - the literal O(secrets) and anything that looks like an API key,
    token, password or Authorization header.
  - With O(fail_on) the task fails when any instance is at least that severe (after writing the report).
  - Writes only report files; reports C(changed=false), as it changes nothing that is managed.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes.read_only
  - gitlab_duo.self_hosted.troubleshoot.secrets
options:
  report_dir:
    description: Directory for the report files (created when missing).
    type: path
    required: true
  results:
    description:
      - One entry per diagnosed host - C(host), C(instance) (the GitLab instance it is or serves), C(gitlab_url)
        (on GitLab hosts), C(findings), and for a bundle C(excerpts) (file name to text) and C(versions).
    type: list
    elements: dict
    required: true
  bundle:
    description:
      - Also write a support bundle (C(support-bundle-<time>.tar.gz), mode 0600) - the report, each host's
        C(excerpts) and C(versions) from O(results), and an escalation checklist, all redacted.
    type: bool
    default: false
  fail_on:
    description: Fail when an instance's worst finding is at least this severe.
    type: str
    choices: [none, critical, warning, info]
    default: none
"""

EXAMPLES = r"""
- name: Write the report
  gitlab_duo.self_hosted.troubleshoot_report:
    report_dir: ./duo-reports/troubleshoot
    results:
      - host: gitlab.example.com
        instance: gitlab.example.com
        gitlab_url: https://gitlab.example.com
        findings: "{{ gitlab_diag.findings }}"
      - host: aigw.example.com
        instance: gitlab.example.com
        findings: "{{ hostvars['aigw.example.com'].gateway_diag.findings }}"
    fail_on: critical
  delegate_to: localhost
"""

RETURN = r"""
summary:
  description: Per instance - instance, worst, counts.
  returned: always
  type: list
  elements: dict
bundle:
  description: Path of the support bundle.
  returned: when O(bundle=true)
  type: str
paths:
  description: The files written.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import SECRETS_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.report import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            report_dir=dict(type="path", required=True),
            results=dict(type="list", elements="dict", required=True),
            secrets=SECRETS_OPTION,
            bundle=dict(type="bool", default=False),
            fail_on=dict(type="str", default="none", choices=["none", "critical", "warning", "info"]),
        ),
        supports_check_mode=True,
    )
    respond(module, run, module.params)


if __name__ == "__main__":
    main()
