# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets out of text and data before they leave a module (private to gitlab_duo.self_hosted).

Two passes. First every secret the caller knows (model keys, tokens, the EAB key) is replaced literally, also
as it appears JSON-escaped or URL-encoded. Then whatever looks like a credential by its shape: PEM blocks, the
whole value of an Authorization, Proxy-Authorization or Cookie header (any scheme), the userinfo of a URL (proxy
credentials included), well-known token prefixes (GitLab, OpenAI/Anthropic, GitHub, Slack, AWS, Google, Hugging
Face, JWTs), and ``name: value`` / ``name=value`` assignments of a secret-looking name, a quoted value whole
even with spaces in it, an unquoted one to the end of the line.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

REDACTED = "<redacted>"

# PEM blocks, also JSON-escaped (literal \n) and cut off at the end of an excerpt.
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?(?:-----END \1-----|\Z)", re.S)
# Whole header values: everything after the colon up to the end of the line or the closing quote.
_HEADER = re.compile(r"(?i)((?:proxy-)?authorization|set-cookie|cookie|private-token|job-token|x-api-key|"
                     r"x-gitlab-token|api-key)(\\?[\"']?\s*[:=]\s*\\?[\"']?)([^\"'\\\r\n]+)")
# scheme://user:password@host (proxies, registries, clone URLs): the userinfo goes.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s@\"'<>]+)@")
_PREFIXED = re.compile(
    r"\b(?:gl(?:pat|dt|rt|rtr|cbt|ptt|ft|imt|agent|oas|soat|wt|ffct|cst)-[\w-]{8,}"  # GitLab tokens
    r"|sk-(?:ant-|proj-|svcacct-)?[\w-]{16,}"                                      # OpenAI, Anthropic
    r"|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|github_pat_\w{20,}"                # GitHub
    r"|xox[abposr]-[\w-]{10,}"                                                     # Slack
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"                                                  # AWS access key ids
    r"|AIza[\w-]{35}"                                                              # Google API keys
    r"|hf_[A-Za-z0-9]{30,}"                                                        # Hugging Face
    r"|eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]+)")                                       # JWTs
_NAME = (r"[\w.-]*?(?:api[_-]?key|apikey|access[_-]?key|secret(?:[_-]?key)?|token|password|passwd|"
         r"credentials?|private[_-]?key|hmac[_-]?key)")
# name: "quoted value, spaces and all" (also JSON-escaped \"...\")
_QUOTED = re.compile(r"(?i)(\b" + _NAME + r"(?:\\?[\"'])?\s*[:=]\s*)(\\?[\"'])((?:(?!\2).)+?)(\2)")
# name=unquoted value: to the end of the line, or to the quote that closes the string it stands in.
_BARE = re.compile(r"(?i)(\b" + _NAME + r"(?:\\?[\"'])?\s*[:=]\s*)(?![\\\"'<\s])([^\"'\\\r\n,;&}]+)")


def _variants(secret):
    """A known secret as it may appear: literally, JSON-escaped, URL-encoded; longest first."""
    forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote(secret)}
    return sorted((form for form in forms if form), key=len, reverse=True)


def _pem(match):
    return "-----BEGIN {0}-----{1}-----END {0}-----".format(match.group(1), REDACTED)


def redact_known(text, secrets=()):
    """``text`` with each of ``secrets`` (in each form it may appear in) replaced by <redacted>, and nothing else:
    for a tool's error line whose wording (``auth token: invalid username/password``) must survive."""
    if not isinstance(text, str):
        return text
    for secret in sorted((str(s) for s in secrets if s), key=len, reverse=True):
        for form in _variants(secret):
            text = text.replace(form, REDACTED)
    return text


def redact(text, secrets=()):
    """``text`` with each of ``secrets`` and everything shaped like a credential replaced by <redacted>."""
    if not isinstance(text, str):
        return text
    text = redact_known(text, secrets)
    text = _PEM.sub(_pem, text)
    text = _HEADER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text)
    text = _PREFIXED.sub(REDACTED, text)
    text = _QUOTED.sub(lambda m: m.group(1) + m.group(2) + REDACTED + m.group(4), text)
    return _BARE.sub(lambda m: m.group(1) + REDACTED, text)


def scrub(value, secrets=()):
    """``redact`` applied to every string inside dicts and lists (keys too)."""
    if isinstance(value, dict):
        return {scrub(key, secrets): scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item, secrets) for item in value]
    if isinstance(value, str):
        return redact(value, secrets)
    return value
