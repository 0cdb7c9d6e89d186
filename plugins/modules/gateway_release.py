#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_release
short_description: Pick the AI Gateway image tag that matches a GitLab version
version_added: 0.1.0
description:
  - Returns the newest C(self-hosted-vX.Y.*-ee) tag for GitLab C(vX.Y.Z), the full image reference and,
    when the registry gives one, the manifest digest.
  - Lists the tags of the gateway repository through the Docker Registry HTTP API v2, answering the
    anonymous C(WWW-Authenticate) Bearer challenge and following C(Link) pagination; or works from an
    offline tag list; or from the manifest of an air-gap bundle (O(bundle_dir)), with no registry call at all.
  - Tags are compared numerically (18.2.10 is newer than 18.2.9; 18.10 is not 18.1). Nightly, C(latest)
    and any other tag that is not a C(self-hosted-vX.Y.Z-ee) release are never chosen.
  - Reads only; never changes anything.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
requirements:
  - requests (unless O(tags) or O(bundle_dir) is given)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes.read_only
  - gitlab_duo.self_hosted.http_options
options:
  gitlab_version:
    description:
      - The GitLab version the gateway must match, as GitLab reports it (V(18.2.1-ee), V(v18.2.1-ee) or V(18.2.1)).
    type: str
    required: true
  tag:
    description:
      - Pin this release tag instead of choosing one. It must be a C(self-hosted-vX.Y.Z-ee) tag of the same
        major.minor as O(gitlab_version) and must exist. Nightly and C(latest) are refused.
    type: str
  registry:
    description:
      - Registry host (with an optional port), or a URL with C(http://) for a plain-HTTP registry.
    type: str
    default: registry.gitlab.com
  repository:
    description: Repository path of the gateway image in O(registry).
    type: str
    default: gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway
  tags:
    description:
      - Offline tag list. When given, the registry is not contacted (no digest is returned).
    type: list
    elements: str
  bundle_dir:
    description:
      - Directory of an air-gap bundle on the machine the module runs on (the control node; the roles delegate it
        to localhost). The tags are the bundle's gateway images (its C(manifest.json)); no registry is contacted.
      - The chosen or pinned tag must be in the bundle, else the module fails saying which GitLab versions the
        bundle covers and how to build one with this version.
      - RV(image) and RV(pinned_image) are then the name the archive loads as (a loaded image has no registry digest
        to pin to); RV(image_id), RV(archive), RV(sha256) and RV(size) say what M(gitlab_duo.self_hosted.gateway_image)
        must find or load on the target.
    type: path
  registry_username:
    description: User for the registry's token service; anonymous when omitted.
    type: str
  registry_password:
    description: Password or token for O(registry_username).
    type: str"""

EXAMPLES = r"""
- name: Choose the gateway release for the instance's GitLab version
  gitlab_duo.self_hosted.gateway_release:
    gitlab_version: 18.2.1-ee
  register: release

- name: Air-gapped, from the tag list shipped in the bundle
  gitlab_duo.self_hosted.gateway_release:
    gitlab_version: "{{ gitlab_detected_version }}"
    registry: registry.internal.example.com
    tags: "{{ lookup('ansible.builtin.file', 'bundle/tags.json') | from_json }}"

- name: Air-gapped, from a bundle carried in (no registry call)
  gitlab_duo.self_hosted.gateway_release:
    gitlab_version: 18.2.1-ee
    bundle_dir: /srv/duo-bundle
  delegate_to: localhost
  register: release

- name: From the organisation's registry mirror (login required, its own CA)
  gitlab_duo.self_hosted.gateway_release:
    gitlab_version: 18.2.1-ee
    registry: mirror.internal.example.com:5443
    registry_username: duo-pull
    registry_password: "{{ vault_mirror_password }}"
    ca_path: /etc/pki/internal-ca.pem
  register: release
"""

RETURN = r"""
tag:
  description: The chosen release tag.
  returned: success
  type: str
  sample: self-hosted-v18.2.2-ee
image:
  description: Full image reference (registry/repository:tag).
  returned: success
  type: str
  sample: registry.gitlab.com/gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway:self-hosted-v18.2.2-ee
digest:
  description: Manifest digest of the tag, when the registry was asked and answered; otherwise null (also with O(bundle_dir)).
  returned: success
  type: str
  sample: sha256:4f1c...
pinned_image:
  description:
    - RV(image) pinned to RV(digest) (C(registry/repository:tag@sha256:...)), so every host runs exactly the image
      resolved here; the same as RV(image) when the tags came from an offline list.
  returned: success
  type: str
  sample: registry.gitlab.com/gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway:self-hosted-v18.2.2-ee@sha256:4f1c...
gitlab_version:
  description: The normalised GitLab version.
  returned: success
  type: str
  sample: 18.2.1
tags_seen:
  description: How many tags the registry or the offline list held (with O(bundle_dir), its gateway images).
  returned: success
  type: int
  sample: 42
image_id:
  description: The image ID (sha256 of the image's config) the bundle's archive loads as.
  returned: with O(bundle_dir)
  type: str
  sample: sha256:7ef73c4f35da...
archive:
  description: Absolute path of the image's archive (gzipped docker-archive) on the control node.
  returned: with O(bundle_dir)
  type: str
  sample: /srv/duo-bundle/images/model-gateway_self-hosted-v18.2.2-ee.tar.gz
sha256:
  description: The archive's sha256 as the manifest records it (checked on the target before loading).
  returned: with O(bundle_dir)
  type: str
size:
  description: The archive's size in bytes.
  returned: with O(bundle_dir)
  type: int
bundle_dir:
  description: Absolute path of the bundle directory.
  returned: with O(bundle_dir)
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.release import resolve
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import (
    REGISTRY_PASSWORD_OPTION, REGISTRY_USERNAME_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.registry import (
    DEFAULT_REGISTRY, DEFAULT_REPOSITORY)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.options import GITLAB_VERSION_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import HTTP_OPTIONS


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gitlab_version=dict(GITLAB_VERSION_OPTION, required=True),
            tag=dict(type="str"),
            registry=dict(type="str", default=DEFAULT_REGISTRY),
            repository=dict(type="str", default=DEFAULT_REPOSITORY),
            tags=dict(type="list", elements="str"),
            bundle_dir=dict(type="path"),
            registry_username=REGISTRY_USERNAME_OPTION,
            registry_password=REGISTRY_PASSWORD_OPTION,
            **HTTP_OPTIONS
        ),
        required_together=[("registry_username", "registry_password")],
        mutually_exclusive=[("bundle_dir", "tags")],
        supports_check_mode=True,
    )
    respond(module, resolve, module.params)


if __name__ == "__main__":
    main()
