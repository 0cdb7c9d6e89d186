#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_collection
short_description: Put the collection's tarball into the air-gap bundle, only when its files changed
version_added: 0.1.0
description:
  - Runs on the connected machine that builds the bundle. Writes C(collection/<namespace>-<name>-<version>.tar.gz)
    into O(bundle_dir), the tarball C(ansible-galaxy collection install) takes on the offline control node.
  - From a source checkout (C(galaxy.yml) in O(collection_path)) it runs C(ansible-galaxy collection build), whose
    C(build_ignore) leaves the lab and tests out. From an installed collection (C(MANIFEST.json) and C(FILES.json),
    no C(galaxy.yml)) it packs again the files C(FILES.json) lists, each checked against its sha256 first.
  - The tarball is built in a temporary directory each run and replaces the bundle's copy only when the collection
    differs (its C(MANIFEST.json) or C(FILES.json), which hold every file's sha256) or the bundle's copy no longer
    matches the manifest. It is copied beside and renamed - a killed build never leaves half a tarball.
  - Tarballs of other versions in C(collection/) are removed by M(gitlab_duo.self_hosted.bundle_manifest).
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
requirements:
  - ansible-core (C(ansible-galaxy)) for a source checkout
extends_documentation_fragment:
  - gitlab_duo.self_hosted.bundle
  - gitlab_duo.self_hosted.attributes
attributes:
  check_mode:
    support: full
    details: Builds into a temporary directory and says whether the bundle's tarball would be replaced.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  collection_path:
    description:
      - The collection's directory - a checkout with C(galaxy.yml), or where it is installed
        (C(.../ansible_collections/gitlab_duo/self_hosted)). O(bundle_dir) must not lie inside it.
    type: path
    required: true
  galaxy_command:
    description: The C(ansible-galaxy) command; the one beside the module's Python, else on C(PATH), when omitted.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Put this collection into the bundle
  gitlab_duo.self_hosted.bundle_collection:
    bundle_dir: /srv/duo-bundle
    collection_path: "{{ playbook_dir | dirname }}"
  register: bundle_collection
"""

RETURN = r"""
collection:
  description: The collection's name, version, the tarball's path in the bundle, its sha256 and size.
  returned: success
  type: dict
  sample: {"name": "gitlab_duo.self_hosted", "version": "0.1.0",
           "file": "collection/gitlab_duo-self_hosted-0.1.0.tar.gz", "sha256": "4f1c...", "size": 221412}
source:
  description: V(checkout) (built with ansible-galaxy) or V(installed) (packed again from an installed collection).
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.collection import ensure_collection
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.manifest import BUNDLE_DIR_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bundle_dir=BUNDLE_DIR_OPTION,
            collection_path=dict(type="path", required=True),
            galaxy_command=dict(type="list", elements="str"),
        ),
        supports_check_mode=True,
    )
    respond(module, ensure_collection, module.params, module.check_mode)


if __name__ == "__main__":
    main()
