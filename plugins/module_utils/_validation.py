# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input rules shared by the modules (private to gitlab_duo.self_hosted).

They match what GitLab itself enforces, so a bad value fails before anything changes instead
of half-way through a play.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError

MAX_URL_LENGTH = 2048
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


# What a name or a path that ends up in an NGINX configuration or a systemd unit may hold: no spaces, quotes,
# semicolons, braces, newlines or '$' that would end a directive or start a new one.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./@+-]{0,4095}\Z")
_ASCII_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
                         r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?\Z|^\[[0-9A-Fa-f:.]+\]\Z")
_IPV4_LEGACY = re.compile(r"^(?:0[xX][0-9A-Fa-f]+|[0-9]+)(?:\.(?:0[xX][0-9A-Fa-f]+|[0-9]+)){0,3}\Z")


def ip_of(host):
    """The address ``host`` spells in any notation the resolver accepts (``127.1``, ``0x7f.0.0.1``,
    ``2130706433``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``), an IPv4-mapped IPv6 address as its IPv4; None for
    a name."""
    host = (host or "").strip("[]")
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if not _IPV4_LEGACY.match(host):
            return None
        try:
            address = ipaddress.ip_address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_local_host(host):
    """localhost, a .localhost name, or a loopback/unspecified address in any notation."""
    host = (host or "").strip("[]").lower().rstrip(".")
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    address = ip_of(host)
    return address is not None and (address.is_loopback or address.is_unspecified)


def no_control_characters(field, value):
    text = "" if value is None else str(value)
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise InputError(field, value, "contains a control character (newline, tab, ...)",
                         "remove it; check for a stray newline from a file lookup (add | trim)")
    return text


def http_url(field, value, allow_local=True, example="https://gitlab.example.com"):
    """An absolute http(s) URL of at most 2048 characters, without a trailing ``/``."""
    text = no_control_characters(field, (value or "").strip())
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(field, value, "not an absolute http:// or https:// URL",
                         "write the full URL with its scheme, e.g. {0}".format(example))
    if len(text) > MAX_URL_LENGTH:
        raise InputError(field, value[:60] + "...", "longer than {0} characters".format(MAX_URL_LENGTH),
                         "use a shorter URL")
    if not allow_local and is_local_host(parts.hostname):
        raise InputError(field, value, "points at localhost/loopback, which GitLab blocks and which means "
                         "a different machine to every host", "use the gateway's network hostname, or set "
                         "allow_local_urls=true for a lab")
    if "@" in parts.netloc:
        raise InputError(field, "<url with credentials>", "carries credentials (user:password@), which would be "
                         "stored and shown with the URL", "remove them; give tokens through their own options")
    if " " in text:
        raise InputError(field, value, "contains a space", "percent-encode it (%20) or remove it")
    try:
        port = parts.port
    except ValueError:
        raise InputError(field, value, "has an invalid port", "use a port from 1 to 65535")
    if port == 0:
        raise InputError(field, value, "has port 0", "use a port from 1 to 65535, or leave it out")
    if not _ASCII_HOST.match(parts.hostname if ":" not in parts.hostname else "[" + parts.hostname + "]"):
        raise InputError(field, value, "has a host name that is not plain ASCII letters, digits, '-' and '.'",
                         "write an internationalised name in its xn-- (punycode) form")
    return text.rstrip("/")


def host_port(field, value):
    """``host:port`` with no scheme (the Duo Agent Platform service URL)."""
    text = (value or "").strip()
    if text.lower().startswith(("http://", "https://")):
        raise InputError(field, value, "starts with http:// or https://, but this is a TCP (gRPC) address",
                         "give host:port only, e.g. {0}".format(text.split("://", 1)[1].rstrip("/") or "gateway:50052"))
    no_control_characters(field, text)
    host, _sep, port = text.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535 or "/" in text \
            or not _ASCII_HOST.match(host) or "@" in text:
        raise InputError(field, value, "is not host:port (ASCII host name or [IPv6], port 1-65535)",
                         "give host:port, e.g. ai-gateway.example.com:50052")
    return text


def port_number(field, value):
    if value is None or not 1 <= int(value) <= 65535:
        raise InputError(field, value, "is not a TCP port", "use a number from 1 to 65535")
    return int(value)


def number_in_range(field, value, low, high, unit="seconds"):
    """``value`` as a number from ``low`` to ``high`` (timeouts, retries, delays)."""
    if value is None or isinstance(value, bool) or not low <= value <= high:
        raise InputError(field, value, "is outside {0}-{1} {2}".format(low, high, unit),
                         "use a number from {0} to {1}".format(low, high))
    return value


def safe_name(field, value):
    """A container, network or unit name that is written into an NGINX configuration or a systemd unit."""
    if not SAFE_NAME.match(str(value or "")):
        raise InputError(field, value, "may hold only letters, digits, '_', '.' and '-' (it is written into NGINX "
                         "and systemd files)", "rename it, e.g. gitlab-ai-gateway")
    return value


def safe_path(field, value):
    """An absolute path written into an NGINX configuration or a systemd unit."""
    if not SAFE_PATH.match(str(value or "")) or "/../" in str(value) + "/":
        raise InputError(field, value, "must be an absolute path of letters, digits and _ . / @ + - only, without "
                         "'..' (it is written into NGINX and systemd files)", "choose a plain path, e.g. "
                         "/etc/gitlab-ai-gateway/proxy")
    return value
