# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The proxy's certificate kept current (private to gitlab_duo.self_hosted): from an ACME CA, from files the
operator provides, or self-signed for a lab; renewed before expiry, installed as four files in one directory.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import (
    LOCK_TIMEOUT_OPTION, PROXY_DIRS, held, proxy_lock_path)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls import certificates as certs
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.acme import (
    HAS_ACME, directory_url, issue_with_account)

SHOWN = ("names", "not_after", "issuer", "serial")


def public(info):
    return {key: value for key, value in (info or {}).items() if key not in ("fullchain", "key")}


def new_pair(params, domains):
    """(fullchain PEM, key PEM) from the mode's source."""
    mode = params["mode"]
    if mode == "provided":
        fullchain = (params["certificate"] or "").strip() + "\n" + (params["chain"] or "").strip() + "\n"
        return "".join(certs.split_pem_chain(fullchain)), params["private_key"].strip() + "\n"
    key_pem = certs.new_private_key_pem(params["key_type"])
    if mode == "self_signed_lab":
        return certs.self_signed(domains, key_pem), key_pem
    if not HAS_ACME:
        raise DuoError(missing_required_lib("acme"))
    account_path = params["acme_account_key"] or os.path.join(os.path.dirname(params["cert_dir"].rstrip("/")),
                                                              "acme-account-key.pem")
    fullchain = issue_with_account(account_path, params["acme_directory"], domains, key_pem, params["webroot"],
                                   verify=params["acme_ca_bundle"] or True, email=params["acme_email"],
                                   eab_kid=params["acme_eab_kid"], eab_hmac_key=params["acme_eab_hmac_key"],
                                   timeout=params["acme_timeout"])
    return fullchain, key_pem


def check_inputs(params):
    domains = certs.check_domains(params["domains"], "http-01" if params["mode"] == "acme" else None)
    if params["mode"] == "acme":
        if not params["webroot"]:
            raise InputError("webroot", None, "is required for mode=acme", "give the directory NGINX serves at "
                             "/.well-known/acme-challenge/")
        directory_url(params["acme_directory"])
        if params["acme_ca_bundle"]:
            certs.check_readable(params["acme_ca_bundle"], "acme_ca_bundle")
    if params["mode"] == "provided":
        for field in ("certificate", "private_key"):
            if not params[field]:
                raise InputError(field, None, "is required for mode=provided", "give the PEM text (lookup('file', ...))")
        certs.check_pair((params["certificate"] or "") + "\n" + (params["chain"] or ""), params["private_key"], domains)
    return domains


def ensure(params, check_mode=False):
    """The tls_certificate module's whole job, holding the lock of the proxy directory that holds cert_dir."""
    if check_mode:
        return ensure_unlocked(params, check_mode)
    proxy_dir = os.path.dirname(os.path.abspath(params["cert_dir"]))
    with held(proxy_lock_path(proxy_dir), "the proxy directory " + proxy_dir,
              params.get("lock_timeout", LOCK_TIMEOUT_OPTION["default"]), lease=(params.get("run_id"), PROXY_DIRS, proxy_dir)):
        return ensure_unlocked(params, check_mode)


def ensure_unlocked(params, check_mode=False):
    """The tls_certificate module's whole job: the four files in cert_dir current for the domains, from the
    chosen source, replaced only when due (or when the provided pair differs)."""
    if not certs.HAS_CRYPTOGRAPHY:
        raise DuoError(missing_required_lib("cryptography"))
    cert_dir = params["cert_dir"]
    paths = {"fullchain": os.path.join(cert_dir, certs.FULLCHAIN), "cert": os.path.join(cert_dir, certs.CERT),
             "chain": os.path.join(cert_dir, certs.CHAIN), "key": os.path.join(cert_dir, certs.PRIVKEY)}
    domains = check_inputs(params)
    current = certs.installed(cert_dir)
    if params["mode"] == "provided":
        wanted = "".join(certs.split_pem_chain((params["certificate"] or "") + "\n" + (params["chain"] or "")))
        good = bool(current) and current["fullchain"] == wanted and current["key"].strip() == params["private_key"].strip()
    else:
        good = certs.still_good(current, domains, params["renew_before_days"]) and not params["force"]
    result = {"changed": not good, "paths": paths, "previous": public(current),
              "action": "none" if good else ("installed" if params["mode"] == "provided" else
                                             "renewed" if current else "issued")}
    if good:
        result["certificate"] = public(current)
    elif not check_mode:
        fullchain, key_pem = new_pair(params, domains)
        result["certificate"] = certs.check_pair(fullchain, key_pem, domains)
        certs.install(cert_dir, fullchain, key_pem)
    if current and not current["key_matches"]:
        result["reason"] = "the installed key does not match the installed certificate; replaced"
    fixed = certs.enforce_modes(cert_dir, check_mode)
    if fixed:
        result.update(changed=True, modes_fixed=fixed)
    after = result.get("certificate") or {"names": domains, "not_after": "(new)", "issuer": "(new)", "serial": "(new)"}
    result["diff"] = {"before": {key: (current or {}).get(key) for key in SHOWN} if current else {},
                      "after": {key: after.get(key) for key in SHOWN}}
    return result
