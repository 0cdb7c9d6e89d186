#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tls_certificate
short_description: Obtain, renew or install the TLS certificate of the proxy in front of the AI Gateway
version_added: 0.1.0
description:
  - V(acme) mode - obtains a certificate from any ACME CA (Let's Encrypt production and staging as presets, or an
    internal ACME CA for air-gapped networks) with the HTTP-01 challenge served from O(webroot) by the proxy.
    The account key is created once and kept; External Account Binding is supported.
  - Idempotent - no new order while the installed certificate covers every domain and has more than
    O(renew_before_days) days left.
  - V(provided) mode - installs a certificate, chain and key you give, after checking that the key matches, the
    names cover every domain, it has not expired and the chain is in order.
  - V(self_signed_lab) mode - a self-signed certificate for labs only; GitLab does not accept a self-signed
    gateway certificate.
  - Writes C(fullchain.pem), C(cert.pem), C(chain.pem) and C(privkey.pem) (mode 0600) into O(cert_dir), each
    replaced by rename. When anything fails the installed certificate stays as it was and no challenge file is
    left behind; ACME failures quote the CA's problem type and detail.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
requirements:
  - cryptography
  - acme (for O(mode=acme))
extends_documentation_fragment:
  - gitlab_duo.self_hosted.lock
  - gitlab_duo.self_hosted.lock.lease
  - gitlab_duo.self_hosted.attributes
attributes:
  check_mode:
    support: full
    details: Reads the installed certificate and says whether it would order, renew or install; contacts no CA.
  diff_mode:
    support: full
    details: Names, expiry, issuer and serial before and after.
  idempotent:
    support: full
options:
  domains:
    description: DNS names the certificate must cover; the first is the subject. No scheme, no path.
    type: list
    elements: str
    required: true
  mode:
    description: Where the certificate comes from.
    type: str
    choices: [acme, provided, self_signed_lab]
    default: acme
  cert_dir:
    description: Directory the proxy reads the certificate from.
    type: path
    required: true
  renew_before_days:
    description: Renew when fewer days than this are left (V(acme), V(self_signed_lab)).
    type: int
    default: 30
  force:
    description: Order (or generate) a new certificate even when the installed one is good.
    type: bool
    default: false
  key_type:
    description: Type of the certificate's private key (a new one per certificate).
    type: str
    choices: [ec, rsa]
    default: ec
  webroot:
    description: Directory the proxy serves at C(/.well-known/acme-challenge/). Required for V(acme).
    type: path
  acme_directory:
    description: ACME directory URL, or V(letsencrypt) / V(letsencrypt_staging).
    type: str
    default: letsencrypt
  acme_email:
    description: Contact e-mail for the ACME account (the CA's expiry notices).
    type: str
  acme_account_key:
    description: Account key file, created when missing (0600). Defaults to C(acme-account-key.pem) beside O(cert_dir).
    type: path
  acme_eab_kid:
    description: External Account Binding key identifier, for CAs that require one.
    type: str
  acme_eab_hmac_key:
    description: External Account Binding HMAC key (base64url).
    type: str
  acme_ca_bundle:
    description: CA bundle to verify the ACME server's TLS certificate with (a private ACME CA).
    type: path
  acme_timeout:
    description: Seconds to wait for validation and issuance.
    type: int
    default: 120
  certificate:
    description: The certificate in PEM (V(provided)); may include the chain after it.
    type: str
  chain:
    description: Intermediate certificates in PEM, leaf's issuer first (V(provided)).
    type: str
  private_key:
    description: The certificate's private key in PEM, unencrypted (V(provided)).
    type: str
"""

EXAMPLES = r"""
- name: Let's Encrypt certificate for the gateway's proxy
  gitlab_duo.self_hosted.tls_certificate:
    domains: [ai-gateway.example.com]
    cert_dir: /etc/gitlab-ai-gateway/nginx/certs
    webroot: /etc/gitlab-ai-gateway/nginx/webroot
    acme_email: ops@example.com

- name: Internal ACME CA with External Account Binding
  gitlab_duo.self_hosted.tls_certificate:
    domains: [ai-gateway.corp.example.com]
    cert_dir: /etc/gitlab-ai-gateway/nginx/certs
    webroot: /etc/gitlab-ai-gateway/nginx/webroot
    acme_directory: https://acme.corp.example.com/directory
    acme_ca_bundle: /etc/pki/tls/certs/corp-ca.pem
    acme_eab_kid: "{{ vault_eab_kid }}"
    acme_eab_hmac_key: "{{ vault_eab_hmac }}"

- name: Your own CA's certificate, copied from the control node
  gitlab_duo.self_hosted.tls_certificate:
    mode: provided
    domains: [ai-gateway.example.com]
    cert_dir: /etc/gitlab-ai-gateway/nginx/certs
    certificate: "{{ lookup('ansible.builtin.file', 'certs/ai-gateway.crt') }}"
    chain: "{{ lookup('ansible.builtin.file', 'certs/intermediate.crt') }}"
    private_key: "{{ lookup('ansible.builtin.file', 'certs/ai-gateway.key') }}"
"""

RETURN = r"""
action:
  description: V(none), V(issued), V(renewed) or V(installed) (what was done, or would be in check mode).
  returned: success
  type: str
certificate:
  description: The certificate now in place - names, not_after, days_left, issuer, subject, serial.
  returned: success, unless check mode would change it
  type: dict
previous:
  description: The certificate that was in place before, if any.
  returned: success
  type: dict
paths:
  description: fullchain, cert, chain and key file paths.
  returned: success
  type: dict
acme_problem:
  description: The ACME problem type and detail, when the CA refused.
  returned: on ACME failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import LOCK_TIMEOUT_OPTION, RUN_ID_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.managed_certificate import ensure


def main():
    module = AnsibleModule(
        argument_spec=dict(
            lock_timeout=LOCK_TIMEOUT_OPTION,
            run_id=RUN_ID_OPTION,
            domains=dict(type="list", elements="str", required=True),
            mode=dict(type="str", default="acme", choices=["acme", "provided", "self_signed_lab"]),
            cert_dir=dict(type="path", required=True),
            renew_before_days=dict(type="int", default=30),
            force=dict(type="bool", default=False),
            key_type=dict(type="str", default="ec", choices=["ec", "rsa"]),
            webroot=dict(type="path"),
            acme_directory=dict(type="str", default="letsencrypt"),
            acme_email=dict(type="str"),
            acme_account_key=dict(type="path", no_log=False),
            acme_eab_kid=dict(type="str"),
            acme_eab_hmac_key=dict(type="str", no_log=True),
            acme_ca_bundle=dict(type="path"),
            acme_timeout=dict(type="int", default=120),
            certificate=dict(type="str"),
            chain=dict(type="str"),
            private_key=dict(type="str", no_log=True),
        ),
        required_together=[("acme_eab_kid", "acme_eab_hmac_key")],
        supports_check_mode=True,
    )
    respond(module, ensure, module.params, module.check_mode)


if __name__ == "__main__":
    main()
