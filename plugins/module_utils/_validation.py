# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input rules shared by the modules (private to gitlab_duo.self_hosted).

They match what GitLab itself enforces, so a bad value fails before anything changes instead
of half-way through a play.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError

MAX_URL_LENGTH = 2048
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_local_host(host):
    host = (host or "").strip("[]").lower().rstrip(".")
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def http_url(field, value, allow_local=True, example="https://gitlab.example.com"):
    """An absolute http(s) URL of at most 2048 characters, without a trailing ``/``."""
    text = (value or "").strip()
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
    try:
        parts.port
    except ValueError:
        raise InputError(field, value, "has an invalid port", "use a port from 1 to 65535")
    return text.rstrip("/")


def host_port(field, value):
    """``host:port`` with no scheme (the Duo Agent Platform service URL)."""
    text = (value or "").strip()
    if text.lower().startswith(("http://", "https://")):
        raise InputError(field, value, "starts with http:// or https://, but this is a TCP (gRPC) address",
                         "give host:port only, e.g. {0}".format(text.split("://", 1)[1].rstrip("/") or "gateway:50052"))
    host, _sep, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535 or "/" in text:
        raise InputError(field, value, "is not host:port", "give host:port, e.g. ai-gateway.example.com:50052")
    return text


def port_number(field, value):
    if value is None or not 1 <= int(value) <= 65535:
        raise InputError(field, value, "is not a TCP port", "use a number from 1 to 65535")
    return int(value)
