# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's JWT signing and validation keys (private to gitlab_duo.self_hosted).

Newer gateways sign their own tokens (without keys: "Token creation failed" / JWK errors).
Each key is an RSA private key in PEM, generated once per gateway, kept on the host with
0600 permissions in a 0700 directory, and reused on every later run and upgrade.
"""

from __future__ import annotations

import os

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.certificates import (
    HAS_CRYPTOGRAPHY, new_private_key_pem, stage)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

# Environment variable -> file name in the key directory.
JWT_KEY_VARIABLES = {
    "AIGW_SELF_SIGNED_JWT__SIGNING_KEY": "aigw_signing_key.pem",
    "AIGW_SELF_SIGNED_JWT__VALIDATION_KEY": "aigw_validation_key.pem",
    "DUO_WORKFLOW_SELF_SIGNED_JWT__SIGNING_KEY": "duo_workflow_signing_key.pem",
    "DUO_WORKFLOW_SELF_SIGNED_JWT__VALIDATION_KEY": "duo_workflow_validation_key.pem",
}


def load_or_create(directory, given=None, check_mode=False):
    """Return ({variable: pem}, [variables generated now]).

    ``given`` keys win and are stored so that later runs without them keep using them. In check
    mode nothing is written and a placeholder stands for a key that would be generated.
    """
    given = given or {}
    unknown = sorted(set(given) - set(JWT_KEY_VARIABLES))
    if unknown:
        raise DuoError("jwt_keys: unknown key(s) {0}. Fix: use only {1}".format(
            ", ".join(unknown), ", ".join(sorted(JWT_KEY_VARIABLES))), field="jwt_keys")
    keys, created = {}, []
    for variable, filename in sorted(JWT_KEY_VARIABLES.items()):
        path = os.path.join(directory, filename)
        stored = None
        if os.path.exists(path):
            with open(path) as handle:
                stored = handle.read()
        wanted = given.get(variable) or stored
        if wanted is None:
            created.append(variable)
            if check_mode:
                wanted = "<generated on first run>"
            elif not HAS_CRYPTOGRAPHY:
                raise DuoError("Generating the gateway's JWT keys needs the Python library cryptography "
                               "on the gateway host. Fix: install it, or pass jwt_keys.")
            else:
                wanted = new_private_key_pem("rsa")
        if wanted != stored and not check_mode:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)
            os.replace(stage(path, wanted, 0o600), path)
        keys[variable] = wanted
    return keys, created
