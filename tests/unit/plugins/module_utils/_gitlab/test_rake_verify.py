from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.rake_verify import parse, task_name

SAMPLE = """GitLab Duo Self-Hosted setup verification
User: duo-user

AI Gateway URL
✔ AI Gateway URL is set: https://aigw.example.com
✗ TLS: certificate verify failed

Models
⚠ Model mistral answered slowly (12 s)
✓ GET https://vllm.example.com/v1/models answered 200

==================== DIAGNOSTIC SUMMARY ====================
{
  "checks": {"ai_gateway_url": "passed", "tls": "failed"},
  "failed": 1
}
trailing noise
"""


def test_parse_marks_sections_and_summary():
    result = parse(SAMPLE)
    assert result["counts"] == {"passed": 2, "failed": 1, "warning": 1}
    assert result["checks"][1] == {"section": "AI Gateway URL", "status": "failed", "text": "TLS: certificate verify failed"}
    assert result["checks"][2]["section"] == "Models"
    assert result["summary"] == {"checks": {"ai_gateway_url": "passed", "tls": "failed"}, "failed": 1}


def test_parse_older_output_without_summary():
    result = parse("Checking...\n✔ ai_gateway_url is set\n✗ user has no Duo seat\n")
    assert result["summary"] is None and result["counts"]["failed"] == 1


def test_parse_empty_and_task_name():
    assert parse("")["checks"] == []
    assert task_name() == "gitlab:duo:verify_self_hosted_setup"
    assert task_name("bob") == "gitlab:duo:verify_self_hosted_setup[bob]"
