# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates for the proxy in front of the gateway: inspect, check and install them atomically
(private to gitlab_duo.self_hosted). Uses the cryptography library."""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shutil
import stat
import tempfile
import time

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False

# File names in the certificate directory, as NGINX is configured to read them.
FULLCHAIN, PRIVKEY, CERT, CHAIN = "fullchain.pem", "privkey.pem", "cert.pem", "chain.pem"
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_DOMAIN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def check_domains(domains, challenge="http-01"):
    """Lower-cased domains; InputError for a scheme, a path, a bad name or a wildcard with HTTP-01."""
    if not domains:
        raise InputError("domains", domains, "is empty", "give the gateway's DNS name, e.g. [ai-gateway.example.com]")
    checked = []
    for domain in domains:
        name = (domain or "").strip().lower().rstrip(".")
        if "://" in name or "/" in name:
            raise InputError("domains", domain, "is a URL, not a DNS name",
                             "give the name alone, e.g. {0}".format(name.split("://")[-1].split("/")[0]))
        if name.startswith("*.") and challenge == "http-01":
            raise InputError("domains", domain, "is a wildcard, which HTTP-01 cannot validate",
                             "list each name, or use a certificate you provide (mode=provided)")
        if not _DOMAIN.match(name):
            raise InputError("domains", domain, "is not a valid DNS name", "use letters, digits, '-' and '.'")
        checked.append(name)
    return checked


def split_pem_chain(text):
    return [match.group(0) + "\n" for match in _PEM_CERT.finditer(text or "")]


def load_certificate(pem):
    return x509.load_pem_x509_certificate(pem.encode("ascii") if isinstance(pem, str) else pem)


def names_of(certificate):
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    names = set()
    if san is not None:
        names.update(name.lower() for name in san.get_values_for_type(x509.DNSName))
        names.update(str(address) for address in san.get_values_for_type(x509.IPAddress))
    if not names:
        names.update(attr.value.lower() for attr in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    return sorted(names)


def covers(names, domain):
    for name in names:
        if name == domain or (name.startswith("*.") and domain.count(".") >= 1 and
                              domain.split(".", 1)[1] == name[2:]):
            return True
    return False


def not_valid_after(certificate):
    """End of validity, timezone-aware. Targets run their distribution's cryptography (Debian 12: 38), which
    has only the naive UTC datetime; not_valid_after_utc came in 42."""
    if hasattr(certificate, "not_valid_after_utc"):
        return certificate.not_valid_after_utc
    return certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def describe(certificate):
    not_after = not_valid_after(certificate)
    return {"names": names_of(certificate), "not_after": not_after.isoformat(),
            "days_left": int((not_after - now()).total_seconds() // 86400),
            "issuer": certificate.issuer.rfc4514_string(), "subject": certificate.subject.rfc4514_string(),
            "serial": format(certificate.serial_number, "x")}


def public_key_bytes(key):
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem, field="key"):
    try:
        return serialization.load_pem_private_key(pem.encode("ascii") if isinstance(pem, str) else pem, None)
    except (ValueError, TypeError) as exc:
        raise InputError(field, "<private key>", "is not a readable, unencrypted PEM private key ({0})".format(exc),
                         "give the PEM key without a passphrase")


def check_pair(fullchain_pem, key_pem, domains, min_days=0, field="certificate"):
    """Check a certificate chain and key before they are used; returns describe() of the leaf."""
    certificates = split_pem_chain(fullchain_pem)
    if not certificates:
        raise InputError(field, "<certificate>", "holds no PEM certificate", "give the certificate in PEM")
    leaf = load_certificate(certificates[0])
    key = load_private_key(key_pem, field="key")
    leaf_public = leaf.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    if public_key_bytes(key) != leaf_public:
        raise InputError("key", "<private key>", "does not match the certificate for {0}".format(
            ", ".join(names_of(leaf))), "give the key the certificate was issued for")
    missing = [domain for domain in domains if not covers(names_of(leaf), domain)]
    if missing:
        raise InputError(field, ", ".join(names_of(leaf)), "does not cover {0}".format(", ".join(missing)),
                         "use a certificate whose names include every domain")
    info = describe(leaf)
    if not_valid_after(leaf) <= now():
        raise InputError(field, ", ".join(info["names"]), "expired on {0}".format(info["not_after"]),
                         "renew it")
    for child_pem, parent_pem in zip(certificates, certificates[1:]):
        child, parent = load_certificate(child_pem), load_certificate(parent_pem)
        if child.issuer != parent.subject:
            raise InputError(field, "<chain>", "is out of order: '{0}' is not issued by the next certificate "
                             "'{1}'".format(child.subject.rfc4514_string(), parent.subject.rfc4514_string()),
                             "order the chain leaf first, then each issuer")
    if info["days_left"] < min_days:
        info["due"] = True
    return info


def key_matches(certificate, key_pem):
    """Whether ``key_pem`` is the private key of ``certificate`` (False for an unreadable key)."""
    try:
        key = serialization.load_pem_private_key(key_pem.encode("ascii"), None)
    except (ValueError, TypeError, UnicodeEncodeError):
        return False
    return public_key_bytes(key) == certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def installed(cert_dir):
    """describe() plus the PEM texts of what is in cert_dir and whether the key matches, or None."""
    paths = {name: os.path.join(cert_dir, name) for name in (FULLCHAIN, PRIVKEY)}
    if not all(os.path.exists(path) for path in paths.values()):
        return None
    with open(paths[FULLCHAIN]) as handle:
        fullchain = handle.read()
    with open(paths[PRIVKEY]) as handle:
        key = handle.read()
    certificates = split_pem_chain(fullchain)
    if not certificates:
        return None
    leaf = load_certificate(certificates[0])
    info = describe(leaf)
    info.update(fullchain=fullchain, key=key, key_matches=key_matches(leaf, key))
    return info


def still_good(current, domains, renew_before_days):
    """Whether ``current`` (installed()) needs no new certificate: its key matches, it covers every domain and
    it is not due."""
    return bool(current) and current.get("key_matches", False) \
        and all(covers(current["names"], domain) for domain in domains) and current["days_left"] > renew_before_days


# The four files are symlinks (relative, so they resolve inside the NGINX container too) into LIVE, itself a
# symlink to one directory under VERSIONS holding a complete set: replacing LIVE swaps all four at once.
LIVE = "live"
VERSIONS = ".versions"
MODES = {PRIVKEY: 0o600, CERT: 0o644, CHAIN: 0o644, FULLCHAIN: 0o644}
KEEP_VERSIONS = 2
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def create_new(path, text, mode):
    """Create ``path`` afresh (O_EXCL, never through a symlink) with ``mode`` set before the first byte."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode)
    try:
        os.fchmod(descriptor, mode)
        handle = os.fdopen(descriptor, "w")
    except BaseException:
        os.close(descriptor)
        raise
    with handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def stage(path, text, mode):
    """``path``.new created afresh with ``mode`` (a stale one, or a symlink planted there, is removed first, never
    followed); the caller's os.replace() then swaps it in, so a reader never sees half a file."""
    staging = path + ".new"
    if os.path.lexists(staging):
        os.unlink(staging)
    return create_new(staging, text, mode)


def swap_symlink(path, target):
    """Point the symlink ``path`` at ``target`` in one rename (a regular file there is replaced too)."""
    temporary = "{0}.swap-{1}".format(path, os.getpid())
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(target, temporary)
    os.replace(temporary, path)


def install(cert_dir, fullchain_pem, key_pem):
    """Write key (0600), fullchain, cert and chain into a new version directory, then swap the ``live`` symlink,
    so NGINX never reads a new certificate with an old key; older versions beyond the previous one go."""
    os.makedirs(os.path.join(cert_dir, VERSIONS), mode=0o755, exist_ok=True)
    certificates = split_pem_chain(fullchain_pem)
    version = tempfile.mkdtemp(prefix=time.strftime("%Y%m%d%H%M%S-"), dir=os.path.join(cert_dir, VERSIONS))
    os.chmod(version, 0o755)
    for name, text in ((PRIVKEY, key_pem), (CERT, certificates[0]), (CHAIN, "".join(certificates[1:])),
                       (FULLCHAIN, "".join(certificates))):
        create_new(os.path.join(version, name), text, MODES[name])
    swap_symlink(os.path.join(cert_dir, LIVE), os.path.join(VERSIONS, os.path.basename(version)))
    for name in MODES:
        link, target = os.path.join(cert_dir, name), os.path.join(LIVE, name)
        if not (os.path.islink(link) and os.readlink(link) == target):
            swap_symlink(link, target)
    prune(cert_dir, os.path.basename(version))


def prune(cert_dir, current):
    versions_dir = os.path.join(cert_dir, VERSIONS)
    old = sorted(name for name in os.listdir(versions_dir) if name != current)
    for name in old[:max(0, len(old) - (KEEP_VERSIONS - 1))]:
        shutil.rmtree(os.path.join(versions_dir, name), ignore_errors=True)


def enforce_modes(cert_dir, check_mode=False):
    """Set the modes of the installed files back (key 0600, the rest 0644) on every run; the names fixed."""
    fixed = []
    for name, mode in MODES.items():
        path = os.path.join(cert_dir, name)
        if os.path.exists(path) and stat.S_IMODE(os.stat(path).st_mode) != mode:
            fixed.append(name)
            if not check_mode:
                os.chmod(path, mode)
    return fixed


def new_private_key_pem(kind="ec"):
    """A new private key in PKCS#8 PEM: EC P-256, or RSA 2048 (``kind="rsa"``)."""
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def self_signed(domains, key_pem, days=90):
    """A self-signed certificate for labs only (GitLab does not accept one for the gateway)."""
    key = load_private_key(key_pem)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])])
    alt = []
    for domain in domains:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(domain)))
        except ValueError:
            alt.append(x509.DNSName(domain))
    start = now() - datetime.timedelta(minutes=5)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start)
                   .not_valid_after(start + datetime.timedelta(days=days))
                   .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def check_readable(path, field):
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise DuoError("{0}={1!r}: cannot be read. Fix: give a readable file.".format(field, path), field=field)
