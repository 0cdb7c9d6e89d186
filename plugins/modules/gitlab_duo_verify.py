#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gitlab_duo_verify
short_description: Run GitLab's own Duo Self-Hosted verification and read its verdicts
version_added: 0.1.0
description:
  - Runs C(gitlab-rake gitlab:duo:verify_self_hosted_setup[<user>]) on the GitLab host and reads every line
    with a ✔ (passed), ✗ (failed), ⚠ or ⚡ (warning) mark, wherever the mark stands on the line (GitLab puts most
    of them at the end), and the C(DIAGNOSTIC SUMMARY) JSON block.
  - A fatal problem makes the task raise (C(rake aborted!) and the message on stderr, exit code 1, no summary);
    such a run is C(aborted), its C(cause) is the raised message, and it is never a pass.
  - Changes nothing.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes.read_only
  - gitlab_duo.self_hosted.gitlab.rake
options:
  fail_on_failed:
    description: Fail the task when any check failed or the task aborted.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: GitLab's own verification for a user with a Duo seat
  gitlab_duo.self_hosted.gitlab_duo_verify:
    user: duo-user
  register: duo_check
"""

RETURN = r"""
checks:
  description: One entry per mark line.
  returned: always
  type: list
  elements: dict
  sample: [{"section": "Checking AI Gateway accessibility", "status": "passed", "text": "AI Gateway server is accessible"}]
summary:
  description: The DIAGNOSTIC SUMMARY JSON, when printed.
  returned: always
  type: dict
counts:
  description: Number of checks per status.
  returned: always
  type: dict
  sample: {"passed": 3, "failed": 1, "warning": 1}
aborted:
  description: The task stopped before its summary (C(rake aborted!), or a non-zero exit without a summary).
  returned: always
  type: bool
cause:
  description: Why the task stopped - the message rake printed after C(rake aborted!) - when it aborted.
  returned: always
  type: str
  sample: Set 'Ai::Setting.instance.ai_gateway_url' to point to your AI Gateway instance
ok:
  description: The task ran to its summary and no check failed.
  returned: always
  type: bool
exit_code:
  description: The rake task's exit code (1 when it aborted).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.options import (
    RAKE_COMMAND_OPTION, VERIFY_USER_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.rake_verify import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            user=VERIFY_USER_OPTION,
            rake_command=RAKE_COMMAND_OPTION,
            fail_on_failed=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    respond(module, run, module.params, module.run_command)


if __name__ == "__main__":
    main()
