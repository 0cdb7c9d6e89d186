#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_mirror
short_description: Push an air-gap bundle's images into the organisation's own registry
version_added: 0.1.0
description:
  - Pushes every image of a bundle (the gateway releases and the NGINX image) to
    C(<mirror_registry>/[<repository_prefix>/]<repository>:<tag>) with C(skopeo copy docker-archive:... docker://...),
    so gateway hosts inside the network pull from there (C(ai_gateway_registry)).
  - Checks each archive's size and sha256 against the bundle's C(manifest.json) before anything is pushed, and
    again while unpacking it for skopeo; a corrupted or missing archive fails the run with nothing of it pushed.
  - Idempotent. An image whose tag in the registry already has the same config digest (its image ID, read with
    C(skopeo inspect --raw --config)) is not pushed again; after a push the tag is read back and must carry the
    image ID the manifest names.
  - Credentials reach skopeo only through a containers-auth.json written with mode 0600 in a private temporary
    directory (on C(/dev/shm) when there is one) and removed afterwards; never on a command line, never shown.
  - Runs where the bundle is and the registry is reachable (the control node inside the network, or a host the
    play is delegated to).
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
requirements:
  - skopeo (Debian/Ubuntu C(apt-get install skopeo)) on the host that pushes
attributes:
  check_mode:
    support: full
    details: Reads the manifest, asks the registry what each tag holds and checks the archives to push; pushes nothing.
  diff_mode:
    support: full
    details: Per target reference, the image ID the registry holds (or C(absent)) and the one the bundle brings.
  idempotent:
    support: full
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes
options:
  bundle_dir:
    description: The bundle directory (the one holding C(manifest.json)) on the host that pushes.
    type: path
    required: true
  mirror_registry:
    description:
      - The internal registry, C(host[:port]) (HTTPS), or C(http://host[:port]) for a plain-HTTP test registry.
    type: str
    required: true
  repository_prefix:
    description:
      - A path put in front of each image's repository, e.g. V(mirror) pushes
        C(registry.gitlab.com/gitlab-org/.../model-gateway) as C(<registry>/mirror/gitlab-org/.../model-gateway).
        Empty keeps each image's own repository path (without the registry it came from) under the new registry
        host, so only C(ai_gateway_registry) changes for the gateway hosts.
    type: str
    default: ""
  registry_username:
    description: User that may push to (and pull from) O(mirror_registry); anonymous when omitted.
    type: str
  registry_password:
    description: Password or token of O(registry_username). Never shown.
    type: str
  ca_path:
    description:
      - The organisation's CA certificate (PEM file) that signed the registry's certificate; the system's CA store
        otherwise. Handed to skopeo as the only C(ca.crt) of a private certificate directory.
    type: path
  validate_certs:
    description: Verify the registry's TLS certificate. Turn it off only for a test.
    type: bool
    default: true
  tmp_dir:
    description:
      - Where an archive is unpacked for skopeo (it needs the image's uncompressed size, one image at a time); the
        system's temporary directory when omitted.
    type: path
notes:
  - Debian's skopeo 1.9 does not read a gzipped C(docker-archive), so each archive to push is unpacked first.
  - The registry's manifest digests differ from those of the registry the bundle was built from (skopeo compresses
    the layers anew); the image ID does not. C(gateway_release) pins to the digest the mirror gives.
seealso:
  - module: gitlab_duo.self_hosted.gateway_release
"""

EXAMPLES = r"""
- name: Push the bundle's images to the internal registry
  gitlab_duo.self_hosted.bundle_mirror:
    bundle_dir: /media/usb/duo-bundle
    mirror_registry: mirror.internal.example.com:5443
    registry_username: duo-push
    registry_password: "{{ vault_mirror_push_password }}"
    ca_path: /etc/pki/internal-ca.pem
  register: mirrored

- name: A plain-HTTP test registry, under a path of its own
  gitlab_duo.self_hosted.bundle_mirror:
    bundle_dir: /srv/duo-bundle
    mirror_registry: http://10.0.0.5:5000
    repository_prefix: duo
"""

RETURN = r"""
registry:
  description: The registry host[:port] pushed to.
  returned: success
  type: str
  sample: mirror.internal.example.com:5443
images:
  description:
    - One entry per image of the bundle - C(target) (the reference in the registry), C(role) (gateway or proxy),
      C(tag), C(image_id), C(archive), C(registry_image_id) (what the tag holds now; null when absent) and
      C(action) - V(present) (already there, not pushed), V(push) (check mode - would be pushed) or V(pushed).
  returned: success
  type: list
  elements: dict
  sample: [{"target": "mirror.internal.example.com:5443/gitlab-org/.../model-gateway:self-hosted-v18.2.2-ee",
            "role": "gateway", "tag": "self-hosted-v18.2.2-ee", "image_id": "sha256:56ec...",
            "archive": "images/model-gateway_self-hosted-v18.2.2-ee.tar.gz", "registry_image_id": "sha256:56ec...",
            "action": "pushed"}]
pushed:
  description: The target references pushed (in check mode, those that would be).
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.mirror import mirror
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import (
    REGISTRY_PASSWORD_OPTION, REGISTRY_USERNAME_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import CA_PATH_OPTION, VALIDATE_CERTS_OPTION


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bundle_dir=dict(type="path", required=True),
            mirror_registry=dict(type="str", required=True),
            repository_prefix=dict(type="str", default=""),
            registry_username=REGISTRY_USERNAME_OPTION,
            registry_password=REGISTRY_PASSWORD_OPTION,
            ca_path=CA_PATH_OPTION,
            validate_certs=VALIDATE_CERTS_OPTION,
            tmp_dir=dict(type="path"),
        ),
        required_together=[("registry_username", "registry_password")],
        supports_check_mode=True,
    )
    respond(module, mirror, module.params, module.check_mode)


if __name__ == "__main__":
    main()
