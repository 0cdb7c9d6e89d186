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
    offline tag list (air-gapped installs).
  - Tags are compared numerically (18.2.10 is newer than 18.2.9; 18.10 is not 18.1). Nightly, C(latest)
    and any other tag that is not a C(self-hosted-vX.Y.Z-ee) release are never chosen.
  - Reads only; never changes anything.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
requirements:
  - requests (unless O(tags) is given)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes.read_only
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
  registry_username:
    description: User for the registry's token service; anonymous when omitted.
    type: str
  registry_password:
    description: Password or token for O(registry_username).
    type: str
  validate_certs:
    description: Verify the registry's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: CA bundle to verify the registry's certificate with.
    type: path
  timeout:
    description: Seconds to wait for each registry request.
    type: int
    default: 30
"""

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
  description: Manifest digest of the tag, when the registry was asked and answered; otherwise null.
  returned: success
  type: str
  sample: sha256:4f1c...
gitlab_version:
  description: The normalised GitLab version.
  returned: success
  type: str
  sample: 18.2.1
tags_seen:
  description: How many tags the registry or the offline list held.
  returned: success
  type: int
  sample: 42
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._registry import (
    DEFAULT_REGISTRY, DEFAULT_REPOSITORY, HAS_REQUESTS, RegistryClient, image_reference)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._versions import (
    choose_release, format_version, parse_gitlab_version, release_tag_version)


def pinned_release(tag, version, tags):
    parts = release_tag_version(tag)
    if parts is None:
        raise InputError("tag", tag, "not a self-hosted-vX.Y.Z-ee release (nightly and latest are not backward "
                         "compatible)", "pin a release tag such as self-hosted-v18.2.2-ee, or omit tag to choose one")
    if parts[:2] != (version.major, version.minor):
        raise InputError("tag", tag, "does not match GitLab {0}".format(format_version(version)),
                         "pin a self-hosted-v{0}.{1}.*-ee tag, or omit tag".format(version.major, version.minor))
    if tag not in tags:
        raise DuoError("tag={0!r}: no such tag in the registry or tag list. Fix: pin a tag that exists, "
                       "or omit tag".format(tag), field="tag")
    return tag


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gitlab_version=dict(type="str", required=True),
            tag=dict(type="str"),
            registry=dict(type="str", default=DEFAULT_REGISTRY),
            repository=dict(type="str", default=DEFAULT_REPOSITORY),
            tags=dict(type="list", elements="str"),
            registry_username=dict(type="str"),
            registry_password=dict(type="str", no_log=True),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            timeout=dict(type="int", default=30),
        ),
        required_together=[("registry_username", "registry_password")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        version = parse_gitlab_version(params["gitlab_version"])
        digest = None
        client = None
        if params["tags"] is not None:
            tags, source = params["tags"], "the offline tag list"
        else:
            if not HAS_REQUESTS:
                module.fail_json(msg=missing_required_lib("requests"))
            verify = (params["ca_path"] or True) if params["validate_certs"] else False
            client = RegistryClient(params["registry"], params["repository"], params["registry_username"],
                                    params["registry_password"], verify=verify, timeout=params["timeout"])
            tags, source = client.list_tags(), "the registry {0}/{1}".format(client.host, client.repository)
        if params["tag"]:
            tag = pinned_release(params["tag"], version, tags)
        else:
            tag = choose_release(version, tags, source=source)
        if client is not None:
            digest = client.manifest_digest(tag)
        module.exit_json(changed=False, tag=tag, image=image_reference(params["registry"], params["repository"], tag),
                         digest=digest, gitlab_version=format_version(version), tags_seen=len(tags))
    except DuoError as exc:
        exc.fail(module)


if __name__ == "__main__":
    main()
