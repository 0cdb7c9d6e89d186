#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: duo_setup_check
short_description: Run GitLab's own Duo Self-Hosted verification and read its verdicts
version_added: 0.1.0
description:
  - Runs C(gitlab-rake gitlab:duo:verify_self_hosted_setup[<user>]) on the GitLab host and parses every
    ✔ (passed), ✗ (failed) and ⚠ (warning) line and the C(DIAGNOSTIC SUMMARY) JSON block.
  - The verdict comes from the marks, not the exit code, since the task exits non-zero only for some failures.
  - Changes nothing.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes.read_only
options:
  user:
    description: A user with a Duo seat to check access for; GitLab uses root when omitted.
    type: str
  rake_command:
    description: The command that runs C(gitlab-rake), as a list (e.g. V([docker, exec, gitlab, gitlab-rake])).
    type: list
    elements: str
    default: [gitlab-rake]
  fail_on_failed:
    description: Fail the task when any check failed.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: GitLab's own verification for a user with a Duo seat
  gitlab_duo.self_hosted.duo_setup_check:
    user: duo-user
  register: duo_check
"""

RETURN = r"""
checks:
  description: One entry per mark line.
  returned: always
  type: list
  elements: dict
  sample: [{"section": "AI Gateway URL", "status": "passed", "text": "AI Gateway URL is set: https://aigw.example.com"}]
summary:
  description: The DIAGNOSTIC SUMMARY JSON, when printed.
  returned: always
  type: dict
counts:
  description: Number of checks per status.
  returned: always
  type: dict
  sample: {"passed": 3, "failed": 1, "warning": 1}
ok:
  description: No check failed.
  returned: always
  type: bool
exit_code:
  description: The rake task's exit code (informative only; the marks decide).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._rake_verify import parse, task_name


def main():
    module = AnsibleModule(
        argument_spec=dict(
            user=dict(type="str"),
            rake_command=dict(type="list", elements="str", default=["gitlab-rake"]),
            fail_on_failed=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    command = module.params["rake_command"] + [task_name(module.params["user"])]
    rc, stdout, stderr = module.run_command(command)
    result = parse(stdout)
    result.update(exit_code=rc, ok=result["counts"]["failed"] == 0 and bool(result["checks"]), changed=False)
    if not result["checks"]:
        module.fail_json(msg="`{0}` printed no ✔/✗/⚠ lines (exit code {1}). Fix: check rake_command and that this "
                             "GitLab version has the task. Output: {2}".format(" ".join(command), rc,
                                                                               (stderr or stdout)[-500:]), **result)
    if module.params["fail_on_failed"] and result["counts"]["failed"]:
        failed = "; ".join(check["text"] for check in result["checks"] if check["status"] == "failed")
        module.fail_json(msg="GitLab's Duo verification failed: " + failed, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
