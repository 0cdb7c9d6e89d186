#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_image
short_description: Put an image of an air-gap bundle on a Docker host - found by its ID, else loaded from its checked archive
version_added: 0.1.0
description:
  - Looks the image up by O(image_id) (the sha256 of its config, which C(docker load) keeps on every engine). When
    the host has it, under any name, it makes sure O(image) names it (a tag) and does nothing else - no archive is
    needed.
  - When the host lacks it and O(archive) is not given or not on the host yet, it reports RV(needs_archive), with
    the free space where the archive goes (and fails when O(size) does not fit there), so the play copies it.
  - With the archive on the host, it checks its sha256 against O(sha256) first, reading it in 1 MiB chunks. A
    mismatch fails, removes the staged file and loads nothing. Then it streams the archive to the engine
    (C(docker load); gzip is read as is, nothing is held in memory), checks that the loaded image has O(image_id)
    (else removes what the load added, gives back any name it took, and fails), tags it O(image) and removes the
    staged archive.
  - A run killed at any step is finished by the next one - see the module_utils C(_bundle/load.py) docstring; the
    copy itself (M(ansible.builtin.copy)) never leaves a half archive under the final name.
  - The C(image_from_bundle) tasks of the C(ai_gateway) role call it twice around the copy; the gateway container
    then runs with C(pull=never).
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
attributes:
  check_mode:
    support: full
    details: Reads the engine only; tags, loads and removes nothing and never reads the archive. Reports what would
      be copied (RV(needs_archive), as a change) or loaded.
  diff_mode:
    support: full
    details: Shows which image the name O(image) gives before and after, and the archive that would be copied or loaded.
  idempotent:
    support: full
extends_documentation_fragment:
  - gitlab_duo.self_hosted.docker
  - gitlab_duo.self_hosted.attributes
  - gitlab_duo.self_hosted.lock
options:
  image:
    description:
      - The name the image must have, C(repository:tag) (the bundle manifest's C(reference); RV(gitlab_duo.self_hosted.gateway_release#module:image)
        with O(gitlab_duo.self_hosted.gateway_release#module:bundle_dir)).
    type: str
    required: true
  image_id:
    description: The image ID the bundle manifest records, C(sha256:<64 hex>).
    type: str
    required: true
  archive:
    description:
      - Path of the image's archive (gzipped docker-archive) on this host, where the play copies it. Loaded only when
        the image is not here; removed once loaded (or found damaged).
    type: path
  sha256:
    description: The archive's sha256 as the bundle manifest records it. Required with O(archive).
    type: str
  size:
    description: The archive's size in bytes; checked against the free space where it goes, and named in messages.
    type: int
  bundle_archive:
    description: Where the archive comes from (its path in the bundle on the control node); for messages and the diff only.
    type: str
  load_timeout:
    description: Seconds the Docker engine may take for one call while it loads the archive.
    type: int
    default: 1800
"""

EXAMPLES = r"""
- name: Find the gateway image on the host, by its ID
  gitlab_duo.self_hosted.gateway_image:
    image: "{{ release.image }}"
    image_id: "{{ release.image_id }}"
    archive: /var/lib/gitlab-ai-gateway/bundle/gateway.tar.gz
    sha256: "{{ release.sha256 }}"
    size: "{{ release.size }}"
  register: found

- name: Copy the archive only when the host lacks the image
  ansible.builtin.copy:
    src: "{{ release.archive }}"
    dest: /var/lib/gitlab-ai-gateway/bundle/gateway.tar.gz
    mode: "0600"
  when: found.needs_archive

- name: Check the archive's sha256 and load it
  gitlab_duo.self_hosted.gateway_image:
    image: "{{ release.image }}"
    image_id: "{{ release.image_id }}"
    archive: /var/lib/gitlab-ai-gateway/bundle/gateway.tar.gz
    sha256: "{{ release.sha256 }}"
  when: found.needs_archive
"""

RETURN = r"""
image:
  description: The name O(image).
  returned: always
  type: str
image_id:
  description: The image ID O(image_id).
  returned: always
  type: str
present:
  description: The host had the image (by its ID) before this run; no archive was needed.
  returned: success
  type: bool
needs_archive:
  description: The host lacks the image and O(archive) is not on it - copy the archive, then call the module again.
  returned: success
  type: bool
free_bytes:
  description: Free bytes where O(archive) goes (its directory or its nearest existing parent).
  returned: when RV(needs_archive) and O(archive) is given
  type: int
loaded:
  description: The archive was loaded (in check mode - would be).
  returned: success
  type: bool
tagged:
  description: The name O(image) was put on the image (in check mode - would be).
  returned: success
  type: bool
archive_removed:
  description: The staged archive was removed after the load (or left over by an interrupted run and removed).
  returned: success
  type: bool
expected_sha256:
  description: The sha256 the manifest records, when the archive's differs.
  returned: on a checksum mismatch
  type: str
found_sha256:
  description: The archive's sha256 on this host, when it differs from O(sha256).
  returned: on a checksum mismatch
  type: str
msg:
  description: What was done, or what is needed.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.load import ensure
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import DOCKER_HOST_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import LOCK_TIMEOUT_OPTION


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type="str", required=True),
            image_id=dict(type="str", required=True),
            archive=dict(type="path"),
            sha256=dict(type="str"),
            size=dict(type="int"),
            bundle_archive=dict(type="str"),
            load_timeout=dict(type="int", default=1800),
            lock_timeout=LOCK_TIMEOUT_OPTION,
            docker_host=DOCKER_HOST_OPTION,
        ),
        required_by={"archive": ("sha256",)},
        supports_check_mode=True,
    )
    respond(module, ensure, module.params, module.check_mode)


if __name__ == "__main__":
    main()
