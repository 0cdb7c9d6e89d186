"""The troubleshooting report: per-instance grouping and order, Markdown for people and JSON for machines, the
support bundle, fail_on; secrets (given ones and credential-looking ones) never reach a file."""

import json
import os
import stat
import tarfile

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import report
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import finding, passed
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import module_params

MODEL_KEY = "sk-model-key-123"
TOKEN = "glpat-secret-token"


def results():
    """Two hosts of prod (GitLab and its gateway), one host of a healthy lab instance."""
    return [
        {"host": "gw1", "instance": "prod/eu", "findings": [
            passed("gateway.healthz", "HTTP 200"),
            finding("gitlab.legacy_ai_gateway_url_env", "AI_GATEWAY_URL=http://old:5052 | set by hand"),
            finding("gitlab.verbose_ai_logs_off")],
         "excerpts": {"gateway.log": "POST /v1/chat key={0}\nAuthorization: Bearer {1}\n".format(MODEL_KEY, TOKEN)},
         "versions": {"gateway_image": "self-hosted-v18.2.1-ee"}},
        {"host": "gitlab1", "instance": "prod/eu", "gitlab_url": "https://gitlab.example.com", "findings": [
            finding("gitlab.ai_gateway_url_unset", "ai_gateway_url=nil;\n model key " + MODEL_KEY)]},
        {"host": "lab1", "instance": "lab", "gitlab_url": "http://gitlab.lab", "findings": [
            passed("gitlab.ai_gateway_url", "https://aigw.lab")]},
    ]


def run_params(report_dir, **given):
    return module_params("troubleshoot_report", {"report_dir": str(report_dir), "results": results(),
                                                 "secrets": [MODEL_KEY]}, **given)


def test_group_orders_instances_by_name_and_findings_by_severity_then_host():
    lab, prod = report.group(results())
    assert (prod["instance"], prod["gitlab_url"], prod["worst"]) == ("prod/eu", "https://gitlab.example.com", "critical")
    assert prod["counts"] == {"critical": 1, "warning": 1, "info": 1, "ok": 1}
    assert [(item["severity"], item["host"], item["id"]) for item in prod["findings"]] == [
        ("critical", "gitlab1", "gitlab.ai_gateway_url_unset"), ("warning", "gw1", "gitlab.legacy_ai_gateway_url_env"),
        ("info", "gw1", "gitlab.verbose_ai_logs_off"), ("ok", "gw1", "gateway.healthz.ok")]
    assert (lab["instance"], lab["worst"], lab["counts"]["ok"]) == ("lab", "ok", 1)
    assert report.group([{"host": "h", "instance": "i"}])[0]["findings"] == []


def test_instance_markdown():
    prod = report.group(results())[1]
    text = report.instance_markdown(prod)
    assert text.startswith("# Troubleshooting report: prod/eu\n\nGitLab: https://gitlab.example.com  \n"
                           "Overall: **CRITICAL** - 1 critical, 1 warning, 1 info, 1 ok\n")
    assert "### CRITICAL: ai_gateway_url is not set\n\n- id: `gitlab.ai_gateway_url_unset` on `gitlab1`\n" in text
    assert "- evidence: AI_GATEWAY_URL=http://old:5052 / set by hand\n" in text, "a pipe would break a table"
    assert "- evidence: ai_gateway_url=nil; model key " + MODEL_KEY in text, "evidence lines are joined"
    assert "- evidence: -\n" in text and ": {0}\n".format(prod["findings"][1]["doc"]) in text
    assert "| gw1 | gateway.healthz | HTTP 200 |" in text.split("## Checks that passed")[1]
    healthy = report.instance_markdown(report.group(results())[0])
    assert "## Findings" not in healthy and "Overall: **OK**" in healthy


def test_fleet_markdown():
    text = report.fleet_markdown(report.group(results()))
    lines = text.splitlines()
    assert lines[0] == "# Troubleshooting summary"
    assert lines[4] == "| lab | OK | 0 | 0 | 0 | 1 | - |"
    assert lines[5].startswith("| prod/eu | CRITICAL | 1 | 1 | 1 | 1 | gitlab.ai_gateway_url_unset: ")


def test_write_redacts_given_and_credential_looking_secrets(tmp_path):
    reports, paths = report.write(str(tmp_path / "out"), report.group(results()), [MODEL_KEY])
    assert sorted(os.path.basename(path) for path in paths) == [
        "fleet.json", "fleet.md", "lab.json", "lab.md", "prod_eu.json", "prod_eu.md"]
    for path in paths:
        with open(path) as handle:
            text = handle.read()
        assert MODEL_KEY not in text, path
    assert json.loads((tmp_path / "out" / "prod_eu.json").read_text())["findings"][0]["evidence"] == \
        "ai_gateway_url=nil;\n model key <redacted>"
    assert json.loads((tmp_path / "out" / "fleet.json").read_text()) == {"instances": [
        {"instance": "lab", "worst": "ok", "counts": {"critical": 0, "warning": 0, "info": 0, "ok": 1}},
        {"instance": "prod/eu", "worst": "critical", "counts": {"critical": 1, "warning": 1, "info": 1, "ok": 1}}]}
    assert MODEL_KEY not in json.dumps(reports)


def test_bundle_contents_are_scrubbed_and_private(tmp_path):
    reports = report.group(results())
    path = report.bundle(str(tmp_path), reports, results(), [MODEL_KEY], now=0)
    assert os.path.basename(path) == "support-bundle-19700101-000000.tar.gz"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with tarfile.open(path) as archive:
        names = archive.getnames()
        texts = {name.split("/", 1)[1]: archive.extractfile(name).read().decode() for name in names}
    assert sorted(texts) == ["ESCALATION.md", "fleet.md", "hosts/gw1/gateway.log", "hosts/gw1/versions.json",
                             "lab.json", "lab.md", "prod_eu.json", "prod_eu.md"]
    assert all(name.startswith("support-bundle-19700101-000000/") for name in names)
    assert texts["hosts/gw1/gateway.log"] == "POST /v1/chat key=<redacted>\nAuthorization: Bearer <redacted>\n"
    assert json.loads(texts["hosts/gw1/versions.json"]) == {"gateway_image": "self-hosted-v18.2.1-ee"}
    assert not [name for name, text in texts.items() if MODEL_KEY in text or TOKEN in text]


@pytest.mark.xfail(strict=True, reason="ESCALATION.md says private keys are redacted in every file, but _redaction "
                   "has no rule for a PEM private key block: one in an excerpt goes into the bundle as it is")
def test_bundle_redacts_a_private_key_in_an_excerpt(tmp_path):
    key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----"
    host = {"host": "gw1", "instance": "prod", "findings": [], "excerpts": {"env.txt": "JWT signing key:\n" + key}}
    path = report.bundle(str(tmp_path), report.group([host]), [host], now=0)
    with tarfile.open(path) as archive:
        text = archive.extractfile("support-bundle-19700101-000000/hosts/gw1/env.txt").read().decode()
    assert "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" not in text


def test_run_summarises_and_bundles(tmp_path):
    result = report.run(run_params(tmp_path, bundle=True))
    assert result["changed"] is False and len(result["paths"]) == 6 and os.path.isfile(result["bundle"])
    assert result["summary"][1] == {"instance": "prod/eu", "worst": "critical",
                                    "counts": {"critical": 1, "warning": 1, "info": 1, "ok": 1}}


@pytest.mark.parametrize("fail_on", ["critical", "warning", "info"])
def test_fail_on_a_critical_instance(tmp_path, fail_on):
    with pytest.raises(DuoError) as info:
        report.run(run_params(tmp_path, fail_on=fail_on))
    assert info.value.msg == "1 instance(s) at {0} or worse: prod/eu. See {1}.".format(fail_on, tmp_path)
    assert info.value.details["summary"][1]["worst"] == "critical" and len(info.value.details["paths"]) == 6
    assert os.path.isfile(tmp_path / "fleet.md"), "the report is written before the run fails"


def test_fail_on_warning_spares_a_healthy_fleet(tmp_path):
    healthy = [result for result in results() if result["instance"] == "lab"]
    result = report.run(module_params("troubleshoot_report", report_dir=str(tmp_path), results=healthy,
                                      fail_on="info"))
    assert result["summary"] == [{"instance": "lab", "worst": "ok",
                                  "counts": {"critical": 0, "warning": 0, "info": 0, "ok": 1}}]
