# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets out of text and data before they leave a module (private to gitlab_duo.self_hosted).

Two passes: every secret the caller knows (model keys, tokens) is replaced literally, then anything that looks
like a credential assignment (``Authorization: Bearer ...``, ``api_key=...``, ``token: ...``).
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"
_ASSIGNMENT = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?|(?:api[_-]?key|token|password|secret)"
                         r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+)")


def redact(text, secrets=()):
    """``text`` with each of ``secrets`` and every secret-looking assignment replaced by <redacted>."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _ASSIGNMENT.sub(lambda match: match.group(1) + REDACTED, text)


def scrub(value, secrets=()):
    """``redact`` applied to every string inside dicts and lists."""
    if isinstance(value, dict):
        return {key: scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, secrets) for item in value]
    if isinstance(value, str):
        return redact(value, secrets)
    return value
