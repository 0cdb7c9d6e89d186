import json

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import REDACTED, redact, redact_known, scrub

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nabcdef\n-----END PRIVATE KEY-----"

# (text, the secret that must be gone, what must stay)
CASES = [
    ("Authorization: Bearer abc.def-ghi", "abc.def-ghi", "Authorization:"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", "Authorization"),
    ("authorization=Token s3cr3t-value", "s3cr3t-value", "authorization="),
    ('{"Authorization": "Negotiate YIIabc123", "path": "/v1"}', "YIIabc123", '"path": "/v1"'),
    ("Proxy-Authorization: Basic cHJveHk6cGFzcw==", "cHJveHk6cGFzcw==", "Proxy-Authorization"),
    ("PRIVATE-TOKEN: abcdefghijklmnop", "abcdefghijklmnop", "PRIVATE-TOKEN"),
    ("HTTPS_PROXY=http://proxyuser:pr0xy-pass@proxy.internal:3128", "pr0xy-pass", "proxy.internal:3128"),
    ("cloning https://oauth2:abc123xyz@gitlab.example.com/group/repo.git", "abc123xyz", "gitlab.example.com/group"),
    ("key is " + PEM + " done", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "done"),
    (json.dumps({"k": PEM}), "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", '"k"'),
    ("truncated -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA", "MIIEpAIBAAKCAQEA", "truncated"),
    ("token glpat-AbCdEf1234567890xyz used", "glpat-AbCdEf1234567890xyz", "used"),
    ("deploy gldt-AbCdEf1234567890xyz", "gldt-AbCdEf1234567890xyz", "deploy"),
    ("litellm key sk-proj-abcdefghijklmnopqrstu rejected", "sk-proj-abcdefghijklmnopqrstu", "rejected"),
    ("anthropic sk-ant-api03-abcdefghijklmnopqrst", "sk-ant-api03-abcdefghijklmnopqrst", "anthropic"),
    ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "gh"),
    ("slack xoxb-123456789012-abcdefghijkl", "xoxb-123456789012-abcdefghijkl", "slack"),
    ("aws AKIAIOSFODNN7EXAMPLE region", "AKIAIOSFODNN7EXAMPLE", "region"),
    ("Cookie: _gitlab_session=abcdef0123456789; other=1", "abcdef0123456789", "Cookie:"),
    ("Set-Cookie: _gitlab_session=abc987; path=/", "abc987", "Set-Cookie"),
    ('password: "correct horse battery staple"', "horse battery", "password"),
    ("api_key='two words'", "two words", "api_key"),
    ("MODEL_API_KEY=s3cret value with spaces", "value with spaces", "MODEL_API_KEY="),
    ('{"message": "token=abc123 refreshed", "level": "info"}', "abc123", '"level": "info"'),
    ('{\\"api_key\\": \\"escaped-secret\\", \\"x\\": 1}', "escaped-secret", "\\\"x\\\": 1"),
    ("client_secret=xyz789&grant_type=client_credentials", "xyz789", "grant_type"),
    ("jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhYmMifQ.c2lnbmF0dXJl end", "eyJzdWIiOiJhYmMifQ", "end"),
]


@pytest.mark.parametrize("text, secret, kept", CASES, ids=[c[0][:30] for c in CASES])
def test_shapes_of_secrets_are_redacted(text, secret, kept):
    out = redact(text)
    assert secret not in out and REDACTED in out
    assert kept in out


@pytest.mark.parametrize("secret", ['pa"ss\\word\nline', "a/b+c=d&e f", "plain-known-secret"])
def test_known_secrets_in_every_encoding(secret):
    from urllib.parse import quote
    for text in (secret, json.dumps({"v": secret}), "url?k=" + quote(secret, safe=""), "u=" + quote(secret)):
        out = redact(text, [secret])
        for form in (secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote(secret)):
            assert form not in out, (text, out)


def test_ordinary_evidence_is_kept():
    text = '{"level": "error", "message": "litellm.NotFoundError: 404", "max_tokens": 512, "status": 401}'
    assert redact(text) == text
    assert redact("AIGW_GITLAB_URL=https://gitlab.example.com/") == "AIGW_GITLAB_URL=https://gitlab.example.com/"


def test_scrub_walks_keys_lists_and_tuples():
    data = {"Authorization: Bearer k1": [("token=abc",), {"x": "glpat-abcdefghijklmnop12"}], "n": 3}
    flat = json.dumps(scrub(data))
    assert "k1" not in flat and "abc\"" not in flat and "glpat-" not in flat and '"n": 3' in flat


def test_redact_known_removes_only_the_known_secrets_and_keeps_a_tools_wording():
    line = "unable to retrieve auth token: invalid username/password: unauthorized (p%40ss%20w0rd%21, p@ss w0rd!)"
    cleaned = redact_known(line, ["p@ss w0rd!"])
    assert "p@ss" not in cleaned and "p%40ss" not in cleaned
    assert cleaned.startswith("unable to retrieve auth token: invalid username/password: unauthorized")
    assert "invalid username/password" not in redact(line, ["p@ss w0rd!"]), "the shape pass would take the wording"
