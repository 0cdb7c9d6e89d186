#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_verify
short_description: Check an air-gap bundle against its manifest before it is carried in
version_added: 0.1.0
description:
  - Runs where the bundle is - the connected machine before it is carried in, or the offline control node after.
  - Reads C(manifest.json) of O(bundle_dir) and hashes every file it lists - a file missing, or with another size or
    sha256, fails; so do an image archive or the collection tarball that the manifest's C(files) do not list alike,
    and a file in the directory the manifest does not list.
  - A failure names each bad file, what is wrong with it and what to do (build again - a rebuild fetches again only
    what is missing or damaged - or copy the file again; remove a file the manifest does not list); RV(problems)
    holds the same as data.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.bundle
  - gitlab_duo.self_hosted.attributes.read_only
options: {}
"""

EXAMPLES = r"""
- name: Check the bundle before it is carried in
  gitlab_duo.self_hosted.bundle_verify:
    bundle_dir: /srv/duo-bundle
  register: bundle_check
"""

RETURN = r"""
ok:
  description: Whether every file matches the manifest (the module fails otherwise).
  returned: always
  type: bool
problems:
  description:
    - One entry per bad file - path, problem (missing, size or sha256 differing, not in the manifest, ...) and fix.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "images/model-gateway_self-hosted-v18.2.10-ee.tar.gz",
            "problem": "sha256 9a0b..., manifest says 4f1c...", "fix": "build again on the connected machine ..."}]
files:
  description: How many files the manifest lists.
  returned: when the manifest could be read
  type: int
images:
  description: The images the bundle holds - role, reference, image_id and archive of each.
  returned: when the manifest could be read
  type: list
  elements: dict
gitlab_versions:
  description: The GitLab versions the bundle covers, each with its gateway tag.
  returned: when the manifest could be read
  type: dict
  sample: {"18.2.1": "self-hosted-v18.2.10-ee", "18.3.0": "self-hosted-v18.3.0-ee"}
collection:
  description: The collection's name, version and tarball in the bundle.
  returned: when the manifest could be read
  type: dict
created:
  description: When the manifest was written (UTC).
  returned: when the manifest could be read
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.manifest import BUNDLE_DIR_OPTION, check
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond


def main():
    module = AnsibleModule(
        argument_spec=dict(bundle_dir=BUNDLE_DIR_OPTION),
        supports_check_mode=True,
    )
    respond(module, check, module.params["bundle_dir"])


if __name__ == "__main__":
    main()
