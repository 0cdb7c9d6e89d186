# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log lines -> catalogue findings (private to gitlab_duo.self_hosted).

Rules are data: (finding id, pattern). Gateway logs are plain or JSON text; GitLab's llm.log is JSON lines,
read tolerantly (a line that is not JSON is matched as text). Evidence is the first matching line, redacted,
with the count of matches.
"""

from __future__ import annotations

import json
import re

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import redact
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import finding

GATEWAY_RULES = [
    ("log.jwt_error", re.compile(r"JWTError|JWKError|No keys founds? in JWKS|Signature verification failed", re.I)),
    ("log.not_enough_segments", re.compile(r"Not enough segments", re.I)),
    ("log.token_creation_failed", re.compile(r"Token creation failed", re.I)),
    ("log.forbidden_by_auth_provider", re.compile(r"Forbidden by auth provider", re.I)),
    ("log.not_found_404", re.compile(r"404 Not Found|\"status\"\s*:\s*\"?404\b")),
    ("log.timeout", re.compile(r"\btime(?:d)? ?out\b|Timeout", re.I)),
    ("log.ssl_verify_failed", re.compile(r"CERTIFICATE_VERIFY_FAILED|SSL certificate verify failed", re.I)),
    ("log.hf_permission_denied", re.compile(r"Permission denied: '[^']*\.hf", re.I)),
    ("log.bedrock_on_demand", re.compile(r"with on-demand throughput isn.t supported", re.I)),
]

GITLAB_RULES = [
    ("log.connection_refused", re.compile(r"Connection refused", re.I)),
    ("log.timeout", re.compile(r"\btime(?:d)? ?out\b|Timeout", re.I)),
    ("log.ssl_verify_failed", re.compile(r"SSL certificate verify failed|CERTIFICATE_VERIFY_FAILED|ssl_connect", re.I)),
]
# Duo Chat's error codes (ee/lib/gitlab/duo/chat/react_executor.rb, ee/lib/gitlab/llm/chain/answer.rb): GitLab's LLM
# logger (ee/lib/gitlab/llm/logger.rb, a Gitlab::JsonLogger) records them in the field duo_chat_error_code (and
# ai_error_code for tools; ee/lib/gitlab/llm/concerns/logger.rb lists both).
CHAT_CODES = ("A1000", "A1001", "A1002", "A1003", "A1004", "A1005", "A1006", "A6000", "A9999", "G3001", "G3002",
              "M3006")
CODE_FIELDS = ("duo_chat_error_code", "ai_error_code")
# Where the logger puts the words of an event (message; error and error_message for failures; the exception fields
# Gitlab::ErrorTracking adds).
TEXT_FIELDS = ("message", "error", "error_message", "exception.class", "exception.message", "body")
# A line that is not JSON (pasted from the UI: "Error code: A1000") is read as text.
CHAT_CODE = re.compile(r"\b(" + "|".join(CHAT_CODES) + r")\b")
EVIDENCE_CHARS = 300


def _add(hits, finding_id, line):
    if finding_id in hits:
        hits[finding_id]["count"] += 1
    else:
        hits[finding_id] = {"count": 1, "line": redact(line.strip())[:EVIDENCE_CHARS]}


def classify(lines, rules):
    """{finding id: {count, line}} for plain log lines."""
    hits = {}
    for line in lines:
        for finding_id, pattern in rules:
            if pattern.search(line):
                _add(hits, finding_id, line)
    return hits


def classify_llm_log(lines):
    """llm.log: JSON lines (severity, time, correlation_id, message, class, ai_event_name, ai_component and the
    logger's options such as status and duo_chat_error_code), plus the GitLab text rules."""
    hits = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and str(record.get("status")) in ("401", "403"):
            _add(hits, "log.unauthorized", line)
        # A JSON record's text is in its message fields; its keys ("timeout": 60) and URLs are no symptom.
        text = " ".join(str(record.get(field)) for field in TEXT_FIELDS if record.get(field)) \
            if isinstance(record, dict) else line
        for finding_id, pattern in GITLAB_RULES:
            if pattern.search(text):
                _add(hits, finding_id, line)
        if isinstance(record, dict):
            codes = {str(record.get(field)) for field in CODE_FIELDS if record.get(field)}
        else:
            codes = set(CHAT_CODE.findall(line))
        for code in codes & set(CHAT_CODES):
            _add(hits, "chat." + code, line)
    return hits


def findings_from(hits, source):
    return [finding(finding_id, "{0}: {1} line(s), e.g. {2}".format(source, hit["count"], hit["line"]),
                    count=hit["count"]) for finding_id, hit in sorted(hits.items())]
