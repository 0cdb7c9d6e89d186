#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_image
short_description: Fetch one container image into the air-gap bundle as a docker-archive, only when it changed
version_added: 0.1.0
description:
  - Runs on the connected machine that builds the bundle. Copies O(source) from its registry with skopeo into
    C(images/<repository>_<tag>.tar.gz) of O(bundle_dir) - a gzipped docker-archive that C(docker load) reads as is,
    loading as O(reference) - and returns the image's manifest entry for M(gitlab_duo.self_hosted.bundle_manifest).
  - Why skopeo and not C(docker save) - no Docker engine is needed on the building machine and no image is left in
    one, every blob is checked against its digest on the way, the platform of a multi-arch image is chosen, and
    credentials come from an auth file.
  - Asks the registry one question (C(skopeo inspect --raw), the manifest digest). The image is fetched only when
    the bundle's manifest has no entry for it, the digest, O(reference) or O(platform) differ from the entry, or the
    archive is missing or no longer matches the entry's sha256. The copy is made from that exact digest.
  - The archive is written beside its final name and renamed at the end - a killed build never leaves half an
    archive under the final name; the next run fetches it again.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.bundle
  - gitlab_duo.self_hosted.bundle.registry
  - gitlab_duo.self_hosted.attributes
attributes:
  check_mode:
    support: full
    details: Reads the registry's digest and says whether it would fetch, and why; writes nothing.
  diff_mode:
    support: full
    details: The reference, digest, image ID and platform before and after.
  idempotent:
    support: full
options:
  source:
    description:
      - The image to fetch, C(registry/repository:tag); C(http://registry/...) for a registry that speaks plain HTTP.
        A name without a registry is Docker Hub's (C(nginx:1.27-alpine) is C(docker.io/library/nginx:1.27-alpine)).
    type: str
    required: true
  reference:
    description:
      - The name the archive loads as (C(registry/repository:tag), no scheme) - the image reference the targets run,
        for example your internal registry's name for it. O(source) without its scheme when omitted.
      - Its repository's last part and its tag name the archive.
    type: str
  role:
    description:
      - What the image is in the bundle - the V(gateway) (C(latest) and C(nightly) are refused) or the TLS V(proxy).
    type: str
    choices: [gateway, proxy]
    default: gateway
  gitlab_versions:
    description: The GitLab versions this gateway image serves (recorded in its manifest entry).
    type: list
    elements: str
    default: []
  platform:
    description:
      - The platform to take from a multi-arch image, C(os/arch[/variant]); V(linux/amd64) when omitted.
    type: str
"""

EXAMPLES = r"""
- name: Fetch the gateway image for GitLab 18.2
  gitlab_duo.self_hosted.bundle_image:
    bundle_dir: /srv/duo-bundle
    source: registry.gitlab.com/gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway:self-hosted-v18.2.10-ee
    gitlab_versions: ["18.2.1", "18.2.4"]
  register: gateway_image

- name: Fetch NGINX from a lab registry that speaks plain HTTP, loading under the name the hosts use
  gitlab_duo.self_hosted.bundle_image:
    bundle_dir: /srv/duo-bundle
    source: http://127.0.0.1:5000/library/nginx:1.22-lab
    reference: registry.internal.example.com/library/nginx:1.22-lab
    role: proxy
"""

RETURN = r"""
image:
  description:
    - The image's entry for the manifest - role, source, reference, repository, tag, image_id (the config digest
      C(docker image inspect) shows after C(docker load)), digest (the registry's manifest digest), platform, archive
      (relative path), sha256 and size of the archive, gitlab_versions. In check mode, when it would be fetched,
      C(pending=true) and no image_id, sha256 or size.
  returned: success
  type: dict
fetched:
  description: Whether the archive was (re)written in this run.
  returned: success
  type: bool
reason:
  description: Why it was fetched (or would be, in check mode), or that it is unchanged.
  returned: success
  type: str
  sample: the registry's digest changed (sha256:4f1c... -> sha256:9a0b...)
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.build import ensure_image
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.manifest import BUNDLE_DIR_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import CA_PATH_OPTION, VALIDATE_CERTS_OPTION


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bundle_dir=BUNDLE_DIR_OPTION,
            source=dict(type="str", required=True),
            reference=dict(type="str"),
            role=dict(type="str", default="gateway", choices=["gateway", "proxy"]),
            gitlab_versions=dict(type="list", elements="str", default=[]),
            platform=dict(type="str"),
            registry_username=dict(type="str"),
            registry_password=dict(type="str", no_log=True),
            validate_certs=VALIDATE_CERTS_OPTION,
            ca_path=CA_PATH_OPTION,
        ),
        required_together=[("registry_username", "registry_password")],
        supports_check_mode=True,
    )
    respond(module, ensure_image, module.params, module.check_mode)


if __name__ == "__main__":
    main()
