# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The bundle directory every bundle module works in (module_utils/_bundle/manifest.py BUNDLE_DIR_OPTION).
    DOCUMENTATION = r"""
options:
  bundle_dir:
    description:
      - The air-gap bundle's directory on the machine the module runs on - C(manifest.json), C(images/),
        C(collection/), C(wheels/), C(requirements/) (see C(docs/airgap.md)).
    type: path
    required: true
"""

    # The registry an image is fetched from with skopeo (bundle_image).
    REGISTRY = r"""
options:
  registry_username:
    description:
      - User for the source registry; anonymous when omitted. Handed to skopeo in an auth file that exists only in
        memory (a memfd read through C(/dev/fd/N)), never on its command line.
    type: str
  registry_password:
    description: Password or token for O(registry_username).
    type: str
  validate_certs:
    description:
      - Verify the source registry's TLS certificate. A source written C(http://...) is reached over plain HTTP
        whatever this says.
    type: bool
    default: true
  ca_path:
    description: CA certificate (PEM) to verify the source registry's certificate with; the system's CA store otherwise.
    type: path
requirements:
  - skopeo on the machine that builds the bundle (Debian/Ubuntu package skopeo)
"""
