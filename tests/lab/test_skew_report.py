"""playbooks/skew_report.yml on the lab: real GitLab stand-ins (versions read from their VERSION files), real
gateway containers on the lab's Docker engine, the table written on the control node. Changes nothing."""

import json
import os
import stat

from .conftest import IMAGE, free_port, gateway_host_vars, run_playbook, write_hosts, write_inventory

TAG = "self-hosted-v18.2.10-ee"


def gateway(lab, name, run_id, reference):
    """A gateway container as install.yml leaves it (created is enough: the report reads Config.Image)."""
    return lab.containers.create(reference, name=name, labels={"gitlab_duo.test": run_id})


def test_skew_report_states_query_and_no_change(lab, run_id, gitlab_factory, tmp_path):
    pulled = lab.images.pull(IMAGE, tag=TAG)
    digest = next(item for item in pulled.attrs["RepoDigests"] if item.startswith(IMAGE + "@")).split("@", 1)[1]
    a, b, c = gitlab_factory("18.2.1-ee"), gitlab_factory("18.3.0-ee"), gitlab_factory("18.2.0-ee")
    names = {key: "duo-skew-{0}-{1}".format(key, run_id) for key in ("match", "lag", "shared", "none", "lost")}
    gateway(lab, names["match"], run_id, "{0}:{1}@{2}".format(IMAGE, TAG, digest))
    gateway(lab, names["lag"], run_id, "{0}:{1}".format(IMAGE, TAG))
    gateway(lab, names["shared"], run_id, "{0}:{1}".format(IMAGE, TAG))
    gateway(lab, names["lost"], run_id, "{0}:{1}".format(IMAGE, TAG))
    before = {container.name: (container.id, container.status) for container in lab.containers.list(
        all=True, filters={"label": "gitlab_duo.test=" + run_id})}

    def host(key, instance, **extra):
        return gateway_host_vars(instance, names[key], free_port(), run_id, str(tmp_path / ("keys-" + key)), **extra)

    gone = {"gitlab_url": "http://gitlab-gone.duo-lab.test:1", "gitlab_version_file": str(tmp_path / "no-VERSION")}
    gateways = {"gw-match": host("match", a), "gw-lag": host("lag", b),
                "gw-shared": host("shared", a, ai_gateway_also_serves=[b.name]), "gw-none": host("none", a),
                "gw-lost": dict(host("lost", a), ai_gateway_gitlab_instance="gitlab-gone")}
    inventory = write_hosts(tmp_path / "inventory.yml", {a.name: a.host_vars(), b.name: b.host_vars(),
                                                         c.name: c.host_vars(), "gitlab-gone": gone}, gateways)
    reports = tmp_path / "reports"

    played = run_playbook(inventory, "skew_report.yml", "-e", "report_dir=" + str(reports))
    assert played.rc == 0, played.output
    assert played.changed() == 0, played.output
    document = json.loads((reports / "skew-report.json").read_text())
    states = {(row["host"], row["instance"]): row["state"] for row in document["rows"]}
    assert states == {
        ("gw-match", a.name): "matches", ("gw-lag", b.name): "lags", ("gw-shared", a.name): "skew",
        ("gw-shared", b.name): "skew", ("gw-none", a.name): "not_installed", ("gw-lost", "gitlab-gone"): "unknown",
        (None, c.name): "no_gateway"}, document["rows"]
    lost = next(row for row in document["rows"] if row["host"] == "gw-lost")
    assert "version of gitlab-gone is not known" in lost["why"] and lost["gateway_tag"] == TAG
    matched = next(row for row in document["rows"] if row["host"] == "gw-match")
    assert matched["instance_version"] == "18.2.1-ee" and matched["gateway_tag"] == TAG
    for name in ("skew-report.md", "skew-report.json"):
        assert stat.S_IMODE(os.stat(str(reports / name)).st_mode) == 0o600
    page = (reports / "skew-report.md").read_text()
    assert "| gw-lag | {0} | 18.3.0-ee | {1} | lags |".format(b.name, TAG) in page
    assert "Totals: 1 matches, 1 lags, 0 leads, 2 skew, 1 unknown, 1 not_installed, 1 no_gateway" in page

    sliced = run_playbook(inventory, "skew_report.yml", "--check", "-e", "report_dir=" + str(reports),
                          "-e", json.dumps({"report_query": "[?state=='lags' || state=='no_gateway']"}))
    assert sliced.rc == 0, sliced.output
    rows = json.loads((reports / "skew-report.json").read_text())["rows"]
    assert [(row["host"], row["state"]) for row in rows] == [("gw-lag", "lags"), (None, "no_gateway")]

    refused = run_playbook(inventory, "skew_report.yml", "-e", "report_dir=" + str(reports),
                           "-e", "report_query=[?state=='lags'")
    assert refused.rc != 0 and "report_query=" in refused.output and "Fix:" in refused.output

    after = {container.name: (container.id, container.status) for container in lab.containers.list(
        all=True, filters={"label": "gitlab_duo.test=" + run_id})}
    assert after == before, "the skew report changed a container"
    assert not lab.containers.list(all=True, filters={"name": names["none"]})


def test_skew_report_on_the_one_host_inventory(lab, run_id, gitlab_factory, tmp_path):
    """The install inventory of the other lab tests: one instance, one gateway not installed yet, then installed."""
    gitlab = gitlab_factory("18.2.1-ee")
    name = "duo-skew-" + run_id
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, name, free_port(), run_id)
    reports = tmp_path / "reports"
    first = run_playbook(inventory, "skew_report.yml", "-e", "report_dir=" + str(reports))
    assert first.rc == 0, first.output
    rows = json.loads((reports / "skew-report.json").read_text())["rows"]
    assert [(row["host"], row["state"]) for row in rows] == [("gw-" + name, "not_installed")]
    installed = run_playbook(inventory)
    assert installed.rc == 0, installed.output
    second = run_playbook(inventory, "skew_report.yml", "-e", "report_dir=" + str(reports))
    assert second.rc == 0, second.output
    rows = json.loads((reports / "skew-report.json").read_text())["rows"]
    assert [(row["host"], row["state"], row["gateway_tag"]) for row in rows] == [("gw-" + name, "matches", TAG)]
