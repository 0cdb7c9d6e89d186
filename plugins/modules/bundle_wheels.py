#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_wheels
short_description: Download the Python wheels another machine needs into the air-gap bundle
version_added: 0.1.0
description:
  - Runs on the connected machine that builds the bundle. C(pip download --only-binary=:all:) of the requirements for
    the given Python versions, platforms and implementation, into C(wheels/<name>/) of O(bundle_dir); then writes
    C(requirements/<name>.txt) with every requested project pinned to the version downloaded, for
    C(pip install --no-index --find-links wheels/<name> -r requirements/<name>.txt) where no index answers.
  - pip resolves into a temporary directory each run (pip's cache keeps unchanged files off the network); the
    bundle's folder is then brought to exactly that set - a wheel with the same name and bytes is left untouched, new
    ones are copied in (beside, then renamed), those no longer wanted are removed. Nothing changed - C(changed=false).
  - Only wheels are taken, so a project without a wheel for the platform fails with pip's words.
  - pip's own settings (C(PIP_INDEX_URL), C(pip.conf)) apply, so an internal index works as for any pip run.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
requirements:
  - pip for the module's Python (or O(pip_command))
extends_documentation_fragment:
  - gitlab_duo.self_hosted.bundle
  - gitlab_duo.self_hosted.attributes
attributes:
  check_mode:
    support: full
    details: Resolves and downloads into a temporary directory, and says which wheels would be added and removed.
  diff_mode:
    support: full
    details: The wheel file names before and after.
  idempotent:
    support: full
options:
  wheel_set:
    description:
      - The wheel set - V(control) (the control node's) or V(targets) (the managed hosts'); its folder is
        C(wheels/<name>/) and its pins C(requirements/<name>.txt).
    type: str
    required: true
    choices: [control, targets]
  requirements:
    description: Requirement specifiers (V(docker), V(docker==7.2.0)); no pip options.
    type: list
    elements: str
    default: []
  requirements_file:
    description: A requirements file on the building machine whose requirement lines are added to O(requirements).
    type: path
  constraints_file:
    description: A constraints file (C(pip download --constraint)) - pins that apply to whatever is resolved.
    type: path
  python_versions:
    description:
      - The Python versions (X.Y) of the machines the wheels are for; one pip run each, into the same folder. The
        module's Python when empty.
    type: list
    elements: str
    default: []
  platforms:
    description:
      - Their platform tags. A manylinux tag stands for every older one a machine with it installs (a Debian 12 host,
        glibc 2.36 - V(manylinux_2_36_x86_64)). When empty, this machine's (its glibc and architecture).
    type: list
    elements: str
    default: []
  implementation:
    description: The Python implementation, as pip names it (V(cp) for CPython).
    type: str
    default: cp
  pip_command:
    description: How to run pip; the module's Python with C(-m pip) when omitted.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: The control node's wheels, from the collection's requirements.txt, for this machine's Python
  gitlab_duo.self_hosted.bundle_wheels:
    bundle_dir: /srv/duo-bundle
    wheel_set: control
    requirements_file: "{{ playbook_dir | dirname }}/requirements.txt"

- name: The targets' wheels for Debian 12 (Python 3.11, glibc 2.36), pinned like the collection's requirements
  gitlab_duo.self_hosted.bundle_wheels:
    bundle_dir: /srv/duo-bundle
    wheel_set: targets
    requirements: [docker, requests, cryptography, acme]
    constraints_file: "{{ playbook_dir | dirname }}/requirements.txt"
    python_versions: ["3.11"]
    platforms: [manylinux_2_36_x86_64]
"""

RETURN = r"""
wheels:
  description:
    - The set's manifest entry - python_versions, platforms (as given, or this machine's), implementation,
      directory, requirements (the pins file) and packages (wheel file names) - and files, the sha256 and size of
      each of its files, for
      M(gitlab_duo.self_hosted.bundle_manifest).
  returned: success
  type: dict
added:
  description: Wheel file names copied in (or that would be, in check mode).
  returned: success
  type: list
  elements: str
removed:
  description: Wheel file names removed (or that would be).
  returned: success
  type: list
  elements: str
requirements_text:
  description: The content of C(requirements/<name>.txt).
  returned: success
  type: str
  sample: "docker==7.2.0\nrequests==2.34.2\n"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.manifest import BUNDLE_DIR_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.wheels import NAMES, ensure_wheels
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bundle_dir=BUNDLE_DIR_OPTION,
            wheel_set=dict(type="str", required=True, choices=list(NAMES)),
            requirements=dict(type="list", elements="str", default=[]),
            requirements_file=dict(type="path"),
            constraints_file=dict(type="path"),
            python_versions=dict(type="list", elements="str", default=[]),
            platforms=dict(type="list", elements="str", default=[]),
            implementation=dict(type="str", default="cp"),
            pip_command=dict(type="list", elements="str"),
        ),
        supports_check_mode=True,
    )
    respond(module, ensure_wheels, module.params, module.check_mode)


if __name__ == "__main__":
    main()
