import os
import stat
import tarfile

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot import report

RESULTS = [{"host": "gw1", "instance": "gitlab-a", "gitlab_url": "https://gitlab.example.com",
            "findings": [{"id": "gateway.auth_bypass_on", "severity": "critical", "title": "t", "cause": "c",
                          "remedy": "r", "doc": "d", "evidence": "Authorization: Basic dXNlcjpwYXNz, key sk-known"}],
            "excerpts": {"gateway.log": "HTTPS_PROXY=http://u:proxy-pass@proxy:3128\n"}}]


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_reports_and_bundle_are_0600_and_redacted(tmp_path):
    old = os.umask(0o022)
    try:
        stale = tmp_path / "gitlab-a.md"
        stale.write_text("old")
        os.chmod(stale, 0o644)
        reports, paths = report.write(str(tmp_path), report.group(RESULTS), ["sk-known"])
        bundle = report.bundle(str(tmp_path), reports, RESULTS, ["sk-known"])
    finally:
        os.umask(old)
    assert paths and all(mode(path) == 0o600 for path in paths + [bundle])
    text = "".join(open(path).read() for path in paths)
    with tarfile.open(bundle) as archive:
        text += "".join(archive.extractfile(m).read().decode() for m in archive.getmembers() if m.isfile())
    for secret in ("dXNlcjpwYXNz", "sk-known", "proxy-pass"):
        assert secret not in text


def test_report_never_written_through_a_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    (tmp_path / "reports").mkdir()
    os.symlink(str(target), str(tmp_path / "reports" / "fleet.md"))
    with pytest.raises(OSError):
        report.write(str(tmp_path / "reports"), report.group(RESULTS))
    assert target.read_text() == "keep"


def test_instances_whose_names_clean_alike_or_match_the_summary_get_their_own_files(tmp_path):
    results = [dict(RESULTS[0], host="gw-" + name, instance=name) for name in ("fleet", "prod/eu", "prod_eu")]
    reports, paths = report.write(str(tmp_path), report.group(results))
    names = sorted(os.path.basename(path) for path in paths)
    assert len(names) == len(set(names)) == 8, names
    fleet = [report for report in reports if report["instance"] == "fleet"][0]
    assert "fleet.json" in names and '"instances"' in (tmp_path / "fleet.json").read_text()
    bundle = report.bundle(str(tmp_path), reports, results)
    with tarfile.open(bundle) as archive:
        members = [member.name.split("/", 1)[1] for member in archive.getmembers()]
    assert len(members) == len(set(members)) and fleet
