# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate a TLS server presents, verified as a client would (private to gitlab_duo.self_hosted)."""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls import certificates


def tls_details(url, ca_path=None, timeout=5):
    """The certificate a TLS server presents for ``url``'s host: verified against ``ca_path`` (or the system's
    CA store) with hostname check, plus names, expiry and days left. Never raises for network errors."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 443
    details = {"host": host, "port": port, "verified": False, "error": None}
    context = ssl.create_default_context(cafile=ca_path or None)
    der = None
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
                details.update(verified=True, protocol=tls.version())
    except ssl.SSLCertVerificationError as exc:
        details["error"] = "certificate not trusted: {0}".format(exc.verify_message)
        unverified = ssl._create_unverified_context()  # only to read what the server presents
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                with unverified.wrap_socket(sock, server_hostname=host) as tls:
                    der = tls.getpeercert(binary_form=True)
                    details["protocol"] = tls.version()
        except (OSError, ssl.SSLError):
            pass
    except (OSError, ssl.SSLError) as exc:
        details["error"] = "TLS connection failed: {0}".format(exc)
    if der and certificates.HAS_CRYPTOGRAPHY:
        details.update(certificates.describe(certificates.load_certificate(ssl.DER_cert_to_PEM_cert(der))))
    return details
