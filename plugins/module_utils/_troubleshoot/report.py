# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The troubleshooting report: one per GitLab instance and a fleet summary, as Markdown for people and JSON for
machines (private to gitlab_duo.self_hosted). Every string passes through redaction on the way out."""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import time

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import SEVERITIES, worst
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._files import file_stem, private_file, write_private
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import scrub

ORDER = {severity: index for index, severity in enumerate(SEVERITIES)}


def counts(findings):
    return {severity: sum(1 for item in findings if item["severity"] == severity) for severity in SEVERITIES}


def instance_report(name, gitlab_url, hosts):
    """hosts: {host: findings}."""
    rows = [dict(item, host=host) for host, findings in sorted(hosts.items()) for item in findings]
    rows.sort(key=lambda item: (ORDER[item["severity"]], item["host"], item["id"]))
    return {"instance": name, "gitlab_url": gitlab_url, "worst": worst(rows), "counts": counts(rows), "findings": rows}


def group(results):
    """Instance reports from per-host results ({host, instance, gitlab_url, findings}), in instance order."""
    instances = {}
    for result in results:
        entry = instances.setdefault(result["instance"], {"gitlab_url": None, "hosts": {}})
        entry["gitlab_url"] = result.get("gitlab_url") or entry["gitlab_url"]
        entry["hosts"][result["host"]] = result.get("findings") or []
    return [instance_report(name, entry["gitlab_url"], entry["hosts"]) for name, entry in sorted(instances.items())]


def _cell(text):
    return re.sub(r"\s+", " ", str(text or "")).replace("|", "/")


def instance_markdown(report):
    lines = ["# Troubleshooting report: {0}".format(report["instance"]), "",
             "GitLab: {0}  ".format(report["gitlab_url"] or "-"),
             "Overall: **{0}** - {1}".format(report["worst"].upper(), ", ".join(
                 "{0} {1}".format(report["counts"][severity], severity) for severity in SEVERITIES)), ""]
    problems = [item for item in report["findings"] if item["severity"] != "ok"]
    if problems:
        lines += ["## Findings", ""]
        for item in problems:
            lines += ["### {0}: {1}".format(item["severity"].upper(), item["title"]), "",
                      "- id: `{0}` on `{1}`".format(item["id"], item["host"]),
                      "- evidence: {0}".format(_cell(item["evidence"]) or "-"),
                      "- likely cause: {0}".format(item["cause"]),
                      "- remedy: {0}".format(item["remedy"]),
                      "- see: {0}".format(item["doc"]), ""]
    passed = [item for item in report["findings"] if item["severity"] == "ok"]
    if passed:
        lines += ["## Checks that passed", "", "| host | check | evidence |", "|---|---|---|"]
        lines += ["| {0} | {1} | {2} |".format(item["host"], item["title"], _cell(item["evidence"])) for item in passed]
        lines.append("")
    return "\n".join(lines)


def fleet_markdown(reports):
    lines = ["# Troubleshooting summary", "", "| instance | overall | critical | warning | info | ok | first problem |",
             "|---|---|---|---|---|---|---|"]
    for report in reports:
        first = next((item for item in report["findings"] if item["severity"] != "ok"), None)
        lines.append("| {0} | {1} | {2} | {3} | {4} | {5} | {6} |".format(
            report["instance"], report["worst"].upper(), report["counts"]["critical"], report["counts"]["warning"],
            report["counts"]["info"], report["counts"]["ok"],
            _cell("{0}: {1}".format(first["id"], first["remedy"])) if first else "-"))
    return "\n".join(lines) + "\n"


# Files the report writes itself: an instance of that name gets a hashed file name instead.
RESERVED_STEMS = ("fleet", "ESCALATION", "hosts")


def write(report_dir, reports, secrets=()):
    """Write <instance>.md/.json and fleet.md/.json (mode 0600); returns the paths."""
    os.makedirs(report_dir, mode=0o700, exist_ok=True)
    reports = scrub(reports, list(secrets))
    paths = []
    for report in reports:
        base = os.path.join(report_dir, file_stem(report["instance"], RESERVED_STEMS))
        for path, text in ((base + ".md", instance_markdown(report)),
                           (base + ".json", json.dumps(report, indent=2, sort_keys=True) + "\n")):
            write_private(path, text)
            paths.append(path)
    for path, text in ((os.path.join(report_dir, "fleet.md"), fleet_markdown(reports)),
                       (os.path.join(report_dir, "fleet.json"), json.dumps(
                           {"instances": [{key: report[key] for key in ("instance", "worst", "counts")}
                                          for report in reports]}, indent=2, sort_keys=True) + "\n")):
        write_private(path, text)
        paths.append(path)
    return reports, paths


ESCALATION = """# Escalating to GitLab Support

This bundle was made by gitlab_duo.self_hosted's troubleshoot.yml. Secrets (API keys, tokens, passwords,
Authorization headers, private keys) are redacted in every file.

Escalate when:

- every basic step of the report's remedies was done and the problem remains;
- the problem is in the integration with a model (answers, formats, streaming);
- a feature is missing from the self-hosted unit primitives (gitlab-cloud-connector's self_hosted_models.yml);
- a platform bug seems to affect many users;
- a model performs poorly for a specific task.

Attach this bundle and say: the GitLab version, the gateway image tag, the model (family, serving software,
endpoint kind), what the user did, what they saw (Duo Chat error code A1000-A9999 if any), and when.

Contents: fleet.md/json (summary), <instance>.md/json (findings with evidence, cause, remedy), hosts/<host>/
(environment with secrets masked, gateway log excerpt, llm.log excerpt, GitLab facts, GitLab's verify output).
"""


def bundle(report_dir, reports, results, secrets=(), now=None):
    """A tarball for escalation: the report, each host's excerpts and versions, and the checklist; all scrubbed."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    path = os.path.join(report_dir, "support-bundle-{0}.tar.gz".format(stamp))
    files = {"ESCALATION.md": ESCALATION, "fleet.md": fleet_markdown(reports)}
    for report in reports:
        name = file_stem(report["instance"], RESERVED_STEMS)
        files[name + ".md"] = instance_markdown(report)
        files[name + ".json"] = json.dumps(report, indent=2, sort_keys=True) + "\n"
    for result in results:
        host = file_stem(result["host"])
        for filename, text in (result.get("excerpts") or {}).items():
            files["hosts/{0}/{1}".format(host, file_stem(filename))] = text
        if result.get("versions"):
            files["hosts/{0}/versions.json".format(host)] = json.dumps(result["versions"], indent=2, sort_keys=True) + "\n"
    files = scrub(files, list(secrets))
    with private_file(path) as handle, tarfile.open(fileobj=handle, mode="w:gz") as archive:
        for name, text in sorted(files.items()):
            data = text.encode("utf-8")
            info = tarfile.TarInfo("support-bundle-{0}/{1}".format(stamp, name))
            info.size, info.mtime, info.mode = len(data), int(now or time.time()), 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


def run(params):
    """The troubleshoot_report module's answer: reports written (and the bundle); DuoError (with the summary)
    when an instance is at ``fail_on`` or worse."""
    reports, paths = write(params["report_dir"], group(params["results"]), params["secrets"])
    summary = [{key: report[key] for key in ("instance", "worst", "counts")} for report in reports]
    result = dict(changed=False, summary=summary, paths=paths)
    if params["bundle"]:
        result["bundle"] = bundle(params["report_dir"], reports, params["results"], params["secrets"])
    if params["fail_on"] != "none":
        limit = ORDER[params["fail_on"]]
        failing = [report["instance"] for report in reports if ORDER[report["worst"]] <= limit]
        if failing:
            raise DuoError("{0} instance(s) at {1} or worse: {2}. See {3}.".format(
                len(failing), params["fail_on"], ", ".join(failing), params["report_dir"]), **result)
    return result
