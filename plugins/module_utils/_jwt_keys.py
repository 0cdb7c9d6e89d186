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

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False

# Environment variable -> file name in the key directory.
JWT_KEY_VARIABLES = {
    "AIGW_SELF_SIGNED_JWT__SIGNING_KEY": "aigw_signing_key.pem",
    "AIGW_SELF_SIGNED_JWT__VALIDATION_KEY": "aigw_validation_key.pem",
    "DUO_WORKFLOW_SELF_SIGNED_JWT__SIGNING_KEY": "duo_workflow_signing_key.pem",
    "DUO_WORKFLOW_SELF_SIGNED_JWT__VALIDATION_KEY": "duo_workflow_validation_key.pem",
}


def new_private_key_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _write_private(path, text):
    descriptor = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


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
                wanted = new_private_key_pem()
        if wanted != stored and not check_mode:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)
            _write_private(path, wanted)
        keys[variable] = wanted
    return keys, created
