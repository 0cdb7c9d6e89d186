# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Getting a certificate from an ACME CA with HTTP-01 through a webroot (private to gitlab_duo.self_hosted).

Let's Encrypt or any ACME directory (an internal CA for air-gapped networks), with optional External
Account Binding. Uses the ``acme`` library (the protocol) and ``cryptography`` (keys and CSR). The
account key is created once and kept; challenge files are removed whatever happens.
"""

from __future__ import annotations

import datetime
import os

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.certificates import (
    load_private_key, new_private_key_pem)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import http_url

try:
    import josepy
    from acme import challenges, client, crypto_util, errors, messages
    HAS_ACME = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_ACME = False

PRESETS = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt_staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
USER_AGENT = "gitlab_duo.self_hosted"
CHALLENGE_DIR = os.path.join(".well-known", "acme-challenge")


def directory_url(value):
    """A preset name or an http(s) directory URL."""
    if value in PRESETS:
        return PRESETS[value]
    return http_url("acme_directory", value, example="https://acme.internal.example.com/directory")


def account_key(path, check_mode=False):
    """(josepy JWK, created) for the account key at ``path``; created once (0600) and kept."""
    if os.path.exists(path):
        with open(path) as handle:
            return josepy.JWKRSA(key=load_private_key(handle.read(), field="acme_account_key")), False
    key_pem = new_private_key_pem("rsa")
    if not check_mode:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        # O_EXCL: never overwrite an account key another run created meanwhile.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key_pem)
    return josepy.JWKRSA(key=load_private_key(key_pem)), True


def problem(exc):
    """The ACME problem type and detail of an error, as the CA said it."""
    if isinstance(exc, messages.Error):
        return "{0}: {1}".format(exc.typ, exc.detail)
    if isinstance(exc, errors.ValidationError):
        details = []
        for authz in exc.failed_authzrs:
            for challenge in authz.body.challenges:
                if challenge.error is not None:
                    details.append("{0} ({1}): {2}: {3}".format(
                        authz.body.identifier.value, challenge.chall.typ, challenge.error.typ, challenge.error.detail))
        return "; ".join(details) or str(exc)
    return "{0}: {1}".format(type(exc).__name__, exc)


def issue_with_account(account_path, directory, domains, key_pem, webroot, **options):
    """The PEM full chain from the CA at ``directory``, signed up with the account key kept at ``account_path``.

    A key created by this call is removed again when the CA never accepted an account for it, so a refused
    sign-up (no contact, bad EAB) leaves nothing behind and the next run starts clean.
    """
    key, created = account_key(account_path)
    issuer = AcmeIssuer(directory, key, **options)
    try:
        return issuer.issue(domains, key_pem, webroot)
    except DuoError:
        if created and not issuer.registered and os.path.exists(account_path):
            os.remove(account_path)
        raise


class AcmeIssuer:
    def __init__(self, directory, key, verify=True, email=None, eab_kid=None, eab_hmac_key=None, timeout=120):
        self.url = directory_url(directory)
        self.key = key
        self.verify = verify
        self.email = email
        self.eab = (eab_kid, eab_hmac_key) if eab_kid else None
        self.timeout = timeout
        self.net = client.ClientNetwork(key, user_agent=USER_AGENT, verify_ssl=verify)
        self.client = None
        self.registered = False

    def connect(self):
        try:
            directory = client.ClientV2.get_directory(self.url, self.net)
        except Exception as exc:  # requests, TLS and JSON errors alike: all mean "no usable directory"
            raise DuoError("Cannot read the ACME directory {0}: {1}. Fix: check acme_directory, the network and "
                           "acme_ca_bundle for a private ACME CA.".format(self.url, exc))
        if directory.meta.external_account_required and not self.eab:
            raise InputError("acme_eab_kid", None, "is required by this CA (externalAccountRequired)",
                             "give acme_eab_kid and acme_eab_hmac_key from your CA account")
        self.client = client.ClientV2(directory, self.net)
        return directory

    def register(self):
        binding = None
        if self.eab:
            binding = messages.ExternalAccountBinding.from_data(self.key.public_key(), self.eab[0], self.eab[1],
                                                                self.client.directory)
        registration = messages.NewRegistration.from_data(email=self.email, terms_of_service_agreed=True,
                                                          external_account_binding=binding)
        try:
            self.client.new_account(registration)
        except errors.ConflictError as existing:
            self.net.account = messages.RegistrationResource(uri=existing.location, body=messages.Registration())
        except messages.Error as exc:
            raise DuoError("The ACME CA refused the account: {0}. Fix: {1}".format(
                problem(exc), "give acme_email" if "Contact" in exc.typ or not self.email else "check the account data"),
                acme_problem=problem(exc))
        self.registered = True

    def issue(self, domains, key_pem, webroot):
        """The PEM full chain for ``domains`` with ``key_pem``; challenge files in ``webroot`` are removed after."""
        self.connect()
        self.register()
        csr = crypto_util.make_csr(key_pem.encode("ascii"), domains)
        written = []
        try:
            order = self.client.new_order(csr)
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    continue  # the CA still trusts an earlier validation
                written.append(self._answer(authz, webroot))
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=self.timeout)
            order = self.client.poll_and_finalize(order, deadline=deadline)
        except (messages.Error, errors.Error) as exc:
            raise DuoError("The ACME CA did not issue the certificate for {0}: {1}. Fix: make sure http://<domain>"
                           "/.well-known/acme-challenge/ reaches this proxy's webroot, and mind the CA's rate "
                           "limits.".format(", ".join(domains), problem(exc)), acme_problem=problem(exc))
        finally:
            for path in written:
                if os.path.exists(path):
                    os.remove(path)
        return order.fullchain_pem

    def _answer(self, authz, webroot):
        http01 = [item for item in authz.body.challenges if isinstance(item.chall, challenges.HTTP01)]
        if not http01:
            raise DuoError("The ACME CA offers no HTTP-01 challenge for {0}".format(authz.body.identifier.value))
        challenge = http01[0]
        response, validation = challenge.response_and_validation(self.key)
        directory = os.path.join(webroot, CHALLENGE_DIR)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        path = os.path.join(directory, challenge.chall.encode("token"))
        with open(path, "w") as handle:
            handle.write(validation)
        os.chmod(path, 0o644)  # NGINX workers read it as an unprivileged user
        self.client.answer_challenge(challenge, response)
        return path
