"""The fleet tables: the upgrade table (with the hosts that recorded nothing), the version skew table (with the
instances no gateway serves), the operator's JMESPath slice, and the files: 0600, redacted, names that never meet."""

import json
import os
import stat

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway import fleet_report
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.fleet_report import (
    NO_RESULT, run, skew_rows, sliced, upgrade_rows)
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import module_params

IMAGE = "127.0.0.1:5000/model-gateway:"
DIGEST = "@sha256:" + "cd" * 32


def result(host, outcome="upgraded", **extra):
    entry = dict(host=host, instance="gitlab-" + host[-1], gitlab_version="18.3.1-ee",
                 tag_before="self-hosted-v18.2.10-ee", tag_after="self-hosted-v18.3.0-ee", result=outcome,
                 why="behind its instance", duration_s=12.34)
    entry.update(extra)
    return entry


RESULTS = [result("gw-b", "rolled_back", tag_after="self-hosted-v18.2.10-ee", why="new image not healthy in 120 s",
                  logs=["Traceback (most recent call last):", "ValueError: bad | pipe"]),
           result("gw-a"), result("gw-c", "already_current", tag_before="self-hosted-v18.3.0-ee", duration_s=0.5)]


def params(tmp_path, **given):
    return module_params("fleet_report", dict(report_dir=str(tmp_path / "reports")), **given)


def test_upgrade_rows_are_one_per_host_sorted_with_every_field():
    rows = upgrade_rows(RESULTS)
    assert [row["host"] for row in rows] == ["gw-a", "gw-b", "gw-c"]
    assert set(rows[0]) == {"host", "instance", "gitlab_version", "tag_before", "tag_after", "result", "why",
                            "duration_s", "logs"}
    assert rows[0]["logs"] == [] and rows[1]["logs"][1] == "ValueError: bad | pipe"


def test_a_host_that_recorded_nothing_is_failed():
    rows = upgrade_rows(RESULTS + [None], hosts=["gw-a", "gw-b", "gw-c", "gw-d"])
    missing = rows[-1]
    assert missing["host"] == "gw-d" and missing["result"] == "failed" and missing["why"] == NO_RESULT
    assert missing["tag_before"] is None and missing["logs"] == []


@pytest.mark.parametrize("entry, field", [
    (dict(result("gw-a"), result="done"), "results[0].result"),
    ({"result": "upgraded"}, "results[0]"),
    ("gw-a", "results[0]"),
    (dict(result("gw-a"), duration_s=-1), "results[0].duration_s"),
    (dict(result("gw-a"), duration_s="12"), "results[0].duration_s"),
    (dict(result("gw-a"), logs="one line"), "results[0].logs"),
    (dict(result("gw-a"), tag_before=18), "results[0].tag_before"),
])
def test_bad_results_name_the_entry(entry, field):
    with pytest.raises(InputError) as info:
        upgrade_rows([entry])
    assert info.value.details["field"] == field and "Fix:" in info.value.msg


GATEWAYS = [
    dict(host="gw-1", instances=["gitlab-a"], current_image=IMAGE + "self-hosted-v18.2.10-ee" + DIGEST),
    dict(host="gw-2", instances=["gitlab-b"], current_image=IMAGE + "self-hosted-v18.2.10-ee"),
    dict(host="gw-3", instances=["gitlab-a", "gitlab-b"], current_image=IMAGE + "self-hosted-v18.2.10-ee"),
    dict(host="gw-4", instances=["gitlab-c"], current_image=IMAGE + "self-hosted-v19.0.0-ee"),
    dict(host="gw-5", instances=["gitlab-a"], current_image=None),
    dict(host="gw-6", instances=["gitlab-a"], current_image="127.0.0.1:5000/model-gateway" + DIGEST),
    dict(host="gw-7", instances=["gitlab-x"], current_image=IMAGE + "self-hosted-v18.2.10-ee"),
    dict(host="gw-8", instances=["gitlab-a"], error="Cannot reach the Docker engine"),
]
INSTANCES = {"gitlab-a": "18.2.1-ee", "gitlab-b": "18.3.0-ee", "gitlab-c": "18.11.0-ee", "gitlab-d": "18.2.0-ee",
             "gitlab-e": None}


def test_skew_rows_say_each_state():
    rows = skew_rows(GATEWAYS, INSTANCES)
    states = [(row["host"], row["instance"], row["state"]) for row in rows]
    assert states == [
        ("gw-1", "gitlab-a", "matches"), ("gw-2", "gitlab-b", "lags"), ("gw-3", "gitlab-a", "skew"),
        ("gw-3", "gitlab-b", "skew"), ("gw-4", "gitlab-c", "leads"), ("gw-5", "gitlab-a", "not_installed"),
        ("gw-6", "gitlab-a", "unknown"), ("gw-7", "gitlab-x", "unknown"), ("gw-8", "gitlab-a", "unknown"),
        (None, "gitlab-d", "no_gateway"), (None, "gitlab-e", "no_gateway")]
    assert rows[0] == dict(host="gw-1", instance="gitlab-a", instance_version="18.2.1-ee",
                           gateway_tag="self-hosted-v18.2.10-ee", state="matches",
                           why="self-hosted-v18.2.10-ee is the release line of GitLab 18.2")
    assert "by digest alone" in rows[6]["why"] and "not known" in rows[7]["why"]
    assert rows[8]["why"] == "reading the gateway failed: Cannot reach the Docker engine"
    assert "ai_gateway_also_serves" in rows[-1]["why"]


@pytest.mark.parametrize("gateways, instances, field", [
    ([dict(instances=["a"])], {}, "gateways[0]"),
    ([dict(host="gw", instances="a")], {}, "gateways[0].instances"),
    ([dict(host="gw", instances=["a"], current_image=5)], {}, "gateways[0].current_image"),
    ([], {"a": "eighteen"}, "instances.a"),
    ([], ["a"], "instances"),
])
def test_bad_skew_input_names_the_field(gateways, instances, field):
    with pytest.raises(InputError) as info:
        skew_rows(gateways, instances)
    assert info.value.details["field"] == field


def test_the_query_slices_rows_and_projections():
    rows = upgrade_rows(RESULTS)
    assert [row["host"] for row in sliced(rows, "[?result=='rolled_back']")] == ["gw-b"]
    assert sliced(rows, "[?duration_s > `10`].{host: host, why: why}") == [
        {"host": "gw-a", "why": "behind its instance"}, {"host": "gw-b", "why": "new image not healthy in 120 s"}]
    assert sliced(rows, "") is rows and sliced(rows, "[?result=='failed']") == []
    assert sliced(rows, "missing_field") == []


@pytest.mark.parametrize("query, says", [
    ("[?result=='rolled_back'", "is not a JMESPath expression"),
    ("length(@)", "gives 3, not a list of rows"),
    ("[].host", "not a list of rows"),
    ("[?contains(duration_s, 'x')]", "is not a JMESPath expression that applies to the rows"),
])
def test_a_bad_query_names_report_query(query, says):
    with pytest.raises(InputError) as info:
        sliced(upgrade_rows(RESULTS), query)
    assert info.value.details["field"] == "report_query" and says in info.value.msg
    assert "[?result=='rolled_back']" in info.value.msg


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_upgrade_report_files(tmp_path):
    answer = run(params(tmp_path, table="upgrade", results=RESULTS, hosts=["gw-a", "gw-b", "gw-c", "gw-d"]))
    md_path, json_path = answer["paths"]
    assert md_path == str(tmp_path / "reports" / "upgrade-report.md") and json_path.endswith("upgrade-report.json")
    assert mode(md_path) == mode(json_path) == 0o600 and mode(str(tmp_path / "reports")) == 0o700
    page = open(md_path).read()
    assert page == answer["markdown"]
    assert "| host | instance (version) | tag before -> after | result | why | duration |" in page
    assert ("| gw-a | gitlab-a (18.3.1-ee) | self-hosted-v18.2.10-ee -> self-hosted-v18.3.0-ee | upgraded | "
            "behind its instance | 12.3 s |") in page
    assert "| gw-d | - (?) | - -> - | failed | " + NO_RESULT + " | - |" in page
    assert "Totals: 1 upgraded, 1 already_current, 1 rolled_back, 1 failed, 0 skipped" in page
    assert "### gw-b (rolled_back)\n\n    Traceback (most recent call last):\n    ValueError: bad | pipe" in page
    document = json.load(open(json_path))
    assert document["totals"] == answer["totals"] == {"upgraded": 1, "already_current": 1, "rolled_back": 1,
                                                      "failed": 1, "skipped": 0}
    assert document["rows"] == answer["rows"] and len(document["rows"]) == 4 and document["query"] is None


def test_a_sliced_report_says_so_and_counts_what_it_shows(tmp_path):
    answer = run(params(tmp_path, kind="upgrade", results=RESULTS, query="[?result=='rolled_back']",
                        report_name="rolled-back"))
    assert [row["host"] for row in answer["rows"]] == ["gw-b"]
    assert "Rows matching `[?result=='rolled_back']`: 1 of 3." in answer["markdown"]
    assert answer["totals"]["rolled_back"] == 1 and answer["totals"]["upgraded"] == 0
    assert json.load(open(answer["paths"][1]))["rows_before_query"] == 3
    projected = run(params(tmp_path, table="upgrade", results=RESULTS, query="[].{host: host, took: duration_s}"))
    assert projected["totals"] is None and "| host | took |" in projected["markdown"]
    assert "| gw-a | 12.34 |" in projected["markdown"]


def test_skew_report_files(tmp_path):
    answer = run(params(tmp_path, table="skew", gateways=GATEWAYS, instances=INSTANCES))
    assert answer["paths"][0].endswith("skew-report.md")
    page = answer["markdown"]
    assert page.startswith("# AI Gateway version skew: skew-report")
    assert "| host | instance | instance version | gateway tag | state | why |" in page
    assert "| - | gitlab-e | ? | - | no_gateway |" in page
    assert ("Totals: 1 matches, 1 lags, 1 leads, 2 skew, 3 unknown, 1 not_installed, 2 no_gateway") in page
    lagging = run(params(tmp_path, table="skew", gateways=GATEWAYS, instances=INSTANCES,
                         query="[?state=='lags' || state=='no_gateway']"))
    assert [row["instance"] for row in lagging["rows"]] == ["gitlab-b", "gitlab-d", "gitlab-e"]


def test_report_names_never_collide_or_escape(tmp_path):
    first = run(params(tmp_path, table="upgrade", results=RESULTS, report_name="prod/eu"))
    second = run(params(tmp_path, table="upgrade", results=RESULTS[:1], report_name="prod_eu"))
    third = run(params(tmp_path, table="upgrade", results=RESULTS[:1], report_name="../escape"))
    paths = first["paths"] + second["paths"] + third["paths"]
    assert len(set(paths)) == 6
    assert all(os.path.dirname(path) == str(tmp_path / "reports") for path in paths)
    assert second["paths"][0].endswith("/prod_eu.md") and "rolled_back" in open(first["paths"][0]).read()


def test_secrets_never_reach_the_files(tmp_path):
    secret = "sk-planted-secret-value"
    logs = ["Authorization: Bearer abc.def.ghi", "key=" + secret]
    leaky = [result("gw-a", "failed", why="model said " + secret, logs=logs)]
    answer = run(params(tmp_path, table="upgrade", results=leaky, secrets=[secret]))
    for path in answer["paths"]:
        text = open(path).read()
        assert secret not in text and "abc.def.ghi" not in text and "<redacted>" in text
    assert secret not in json.dumps(answer)


def test_required_inputs_per_table(tmp_path):
    with pytest.raises(InputError) as info:
        fleet_report.build(dict(table="skew", gateways=[], instances=None, query=None))
    assert info.value.details["field"] == "instances"
    with pytest.raises(InputError) as info:
        fleet_report.build(dict(table="upgrade", results=None, hosts=[], query=None))
    assert info.value.details["field"] == "results"
