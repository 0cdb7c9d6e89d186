#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_manifest
short_description: Write the air-gap bundle's manifest.json from what the build's steps report
version_added: 0.1.0
description:
  - Runs on the connected machine that builds the bundle, last. Writes C(manifest.json) (format 1) into O(bundle_dir)
    - each image's tag, image ID, digest, archive sha256 and size, the GitLab versions each gateway image serves
    (and the top-level map of GitLab version to gateway tag), the collection's name, version and tarball, the wheel
    sets, and the sha256 and size of every file of the build. The format is described in C(docs/airgap.md).
  - The hashes the steps computed in this run are taken as they are when the file's size agrees; any other file is
    hashed here.
  - The manifest is written atomically (beside, then renamed) and only when what it says changed - the C(created)
    time aside. A killed build leaves the previous manifest.
  - Files under C(images/), C(collection/), C(wheels/) and C(requirements/) that no step reported (an image no
    longer wanted, a leftover C(.partial) of a killed run) are removed after the manifest is written. Files elsewhere
    in O(bundle_dir) are not the build's - they are left alone, reported in RV(unmanaged) with a warning, and
    M(gitlab_duo.self_hosted.bundle_verify) fails on them until they are removed.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.bundle
  - gitlab_duo.self_hosted.attributes
attributes:
  check_mode:
    support: full
    details: Works out the manifest the steps' reports give and what it would remove, and writes and removes nothing.
  diff_mode:
    support: full
    details: The manifest's text before and after (without C(created)).
  idempotent:
    support: full
options:
  images:
    description:
      - The C(image) results of M(gitlab_duo.self_hosted.bundle_image), one per image the bundle holds. An image
        of the old manifest that is not listed is dropped and its archive removed.
    type: list
    elements: dict
    required: true
  collection:
    description: The C(collection) result of M(gitlab_duo.self_hosted.bundle_collection).
    type: dict
    required: true
  wheels:
    description:
      - The C(wheels) results of M(gitlab_duo.self_hosted.bundle_wheels) by wheel set (V(control), V(targets)); a set
        not given is dropped from the bundle.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Write the manifest
  gitlab_duo.self_hosted.bundle_manifest:
    bundle_dir: /srv/duo-bundle
    images: "{{ bundle_images.results | map(attribute='image') | list }}"
    collection: "{{ bundle_collection.collection }}"
    wheels:
      control: "{{ bundle_wheels_control.wheels }}"
      targets: "{{ bundle_wheels_targets.wheels }}"
"""

RETURN = r"""
manifest:
  description:
    - The manifest as written (or as it would be, in check mode); the previous one unchanged when images are still
      pending in check mode.
  returned: success
  type: dict
manifest_path:
  description: The manifest's path.
  returned: success
  type: str
removed:
  description: Files of the build's folders removed because no step reported them (or that would be, in check mode).
  returned: success
  type: list
  elements: str
unmanaged:
  description: Files in the bundle outside the build's folders (not listed in the manifest; verify fails on them).
  returned: success
  type: list
  elements: str
pending:
  description: In check mode, the images that would be fetched first (the manifest cannot be worked out yet).
  returned: when images are pending
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.build import assemble
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.manifest import BUNDLE_DIR_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bundle_dir=BUNDLE_DIR_OPTION,
            images=dict(type="list", elements="dict", required=True),
            collection=dict(type="dict", required=True),
            wheels=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    respond(module, assemble, module.params, module.check_mode)


if __name__ == "__main__":
    main()
