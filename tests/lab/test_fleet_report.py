"""fleet_report through Ansible on the control node: the upgrade table with a host that recorded nothing, the
operator's query, a bad query, and the files (0600, no secret)."""

import json
import os
import stat

from .conftest import run_module

RESULTS = [
    {"host": "gw-a", "instance": "gitlab-a", "gitlab_version": "18.3.1-ee", "tag_before": "self-hosted-v18.2.10-ee",
     "tag_after": "self-hosted-v18.3.0-ee", "result": "upgraded", "why": "behind its instance", "duration_s": 41.2},
    {"host": "gw-b", "instance": "gitlab-b", "gitlab_version": "18.3.1-ee", "tag_before": "self-hosted-v18.2.10-ee",
     "tag_after": "self-hosted-v18.2.10-ee", "result": "rolled_back", "why": "new image not healthy",
     "duration_s": 130.0, "logs": ["boot failed: api_key=sk-fleet-planted-secret"]},
]


def test_upgrade_table_through_ansible(tmp_path):
    secret = "sk-fleet-planted-secret"
    args = {"table": "upgrade", "report_dir": str(tmp_path / "reports"), "results": RESULTS,
            "hosts": ["gw-a", "gw-b", "gw-c"], "secrets": [secret], "report_name": "prod/eu"}
    rc, result, output = run_module("fleet_report", args, "--check")
    assert rc == 0, output
    assert result["changed"] is False and [row["result"] for row in result["rows"]] == [
        "upgraded", "rolled_back", "failed"]
    assert result["totals"] == {"upgraded": 1, "already_current": 0, "rolled_back": 1, "failed": 1, "skipped": 0}
    for path in result["paths"]:
        assert os.path.dirname(path) == str(tmp_path / "reports") and os.path.basename(path).startswith("prod_eu-")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert secret not in open(path).read()
    assert secret not in output

    rc, result, output = run_module("fleet_report", dict(args, query="[?result=='rolled_back'].{host: host, why: why}"))
    assert rc == 0, output
    assert result["rows"] == [{"host": "gw-b", "why": "new image not healthy"}] and result["totals"] is None
    assert json.load(open(result["paths"][1]))["rows_before_query"] == 3

    rc, result, output = run_module("fleet_report", dict(args, query="[?result=='rolled_back'"))
    assert rc != 0 and result["field"] == "report_query" and "Fix:" in result["msg"]
