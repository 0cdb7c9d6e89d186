# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: bundle_image
version_added: 0.1.0
short_description: One image of an air-gap bundle on the control node - its image ID, archive, checksum and size
description:
  - Reads the bundle's C(manifest.json) (format 1) on the control node and returns the entry of the image with the
    given O(role) and O(reference) (or O(tag)), with C(archive) the absolute path of its archive. No registry is asked.
  - Fails naming the images the bundle holds for that role, and the fix, when it has none.
  - The C(tls_proxy) role takes its NGINX image (role C(proxy)) from the bundle with it; the gateway's image comes from
    M(gitlab_duo.self_hosted.gateway_release) with O(gitlab_duo.self_hosted.gateway_release#module:bundle_dir).
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
options:
  _terms:
    description: The bundle directory (one).
    type: list
    elements: path
    required: true
  role:
    description: The image's role in the bundle.
    type: str
    choices: [gateway, proxy]
    default: proxy
  reference:
    description: The name the archive loads as (e.g. C(tls_proxy_image)).
    type: str
  tag:
    description: The image's tag (instead of O(reference)).
    type: str
"""

EXAMPLES = r"""
- name: The NGINX image of the bundle
  ansible.builtin.set_fact:
    proxy_image: "{{ lookup('gitlab_duo.self_hosted.bundle_image', '/srv/duo-bundle', reference=tls_proxy_image) }}"
"""

RETURN = r"""
_raw:
  description:
    - The manifest's image entry - role, reference, repository, tag, image_id, sha256, size, gitlab_versions,
      archive (absolute path on the control node) and archive_in_bundle (the manifest's relative path).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.release import image_in_bundle
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1:
            raise AnsibleLookupError("bundle_image takes one bundle directory, got {0!r}".format(terms))
        reference, tag = self.get_option("reference"), self.get_option("tag")
        if not reference and not tag:
            raise AnsibleLookupError("bundle_image needs reference= or tag=")
        try:
            return [image_in_bundle(terms[0], self.get_option("role"), tag=tag or None, reference=reference or None)]
        except DuoError as exc:
            raise AnsibleLookupError(exc.msg)
