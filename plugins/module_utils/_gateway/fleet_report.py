# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet tables (private to gitlab_duo.self_hosted): the upgrade table (one row per gateway host: instance and
version, tag before -> after, result, why, duration) and the version skew table (one row per gateway and instance it
serves, plus instances no gateway serves), built from per-host results with JMESPath, sliced by an operator's
JMESPath query, and written as Markdown and JSON (0600) on the control node. Every string is redacted on the way
out."""

from __future__ import annotations

import json
import os
import re

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._files import file_stem, write_private
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.upgrade import skew_state
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import parse_gitlab_version
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import scrub

try:
    import jmespath
    from jmespath.exceptions import JMESPathError
    HAS_JMESPATH = True
except ImportError:  # pragma: no cover - run() says how to install it
    HAS_JMESPATH = False
    JMESPathError = Exception

KINDS = ("upgrade", "skew")
RESULTS = ("upgraded", "already_current", "rolled_back", "failed", "skipped")
STATES = ("matches", "lags", "leads", "skew", "unknown", "not_installed", "no_gateway")
NO_RESULT = "no result recorded (the host failed earlier; see the play output)"
NO_GATEWAY = ("no host of the ai_gateway group serves it (ai_gateway_gitlab_instance or ai_gateway_also_serves). "
              "Fix: add a gateway host for it and run install.yml")
QUERY_FIELD = "report_query"

# One row per host, every field present (JMESPath projection of the per-host results, then sorted by host).
UPGRADE_ROWS = jmespath.compile(
    "[].{host: host, instance: instance, gitlab_version: gitlab_version, tag_before: tag_before, "
    "tag_after: tag_after, result: result, why: why, duration_s: duration_s, logs: logs || `[]`} "
    "| sort_by(@, &host)") if HAS_JMESPATH else None
SKEW_ORDER = jmespath.compile("sort_by(@, &join('/', [host || '~', instance || '']))") if HAS_JMESPATH else None
SERVED = jmespath.compile("[].instances[]") if HAS_JMESPATH else None

# Markdown columns per kind: (heading, how a row is shown).
COLUMNS = {
    "upgrade": [
        ("host", lambda row: row["host"]),
        ("instance (version)", lambda row: "{0} ({1})".format(row["instance"] or "-", row["gitlab_version"] or "?")),
        ("tag before -> after", lambda row: "{0} -> {1}".format(row["tag_before"] or "-", row["tag_after"] or "-")),
        ("result", lambda row: row["result"]),
        ("why", lambda row: row["why"]),
        ("duration", lambda row: "-" if row["duration_s"] is None else "{0:.1f} s".format(float(row["duration_s"]))),
    ],
    "skew": [
        ("host", lambda row: row["host"] or "-"),
        ("instance", lambda row: row["instance"] or "-"),
        ("instance version", lambda row: row["instance_version"] or "?"),
        ("gateway tag", lambda row: row["gateway_tag"] or "-"),
        ("state", lambda row: row["state"]),
        ("why", lambda row: row["why"]),
    ],
}
# The field totals are counted by, and its values in order.
TOTALS = {"upgrade": ("result", RESULTS), "skew": ("state", STATES)}
TITLES = {"upgrade": "AI Gateway upgrade", "skew": "AI Gateway version skew"}


def _need_jmespath():
    if not HAS_JMESPATH:
        raise DuoError("The jmespath Python package is missing on the control node. Fix: pip install jmespath "
                       "(it is in the collection's requirements.txt)")


def _text(entry, key, where):
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise InputError("{0}.{1}".format(where, key), value, "is not a string", "give text or leave it out")
    return value


def upgrade_rows(results, hosts=None):
    """One row per host from the per-host upgrade ``results`` ({host, instance, gitlab_version, tag_before,
    tag_after, result, why, duration_s, logs}); None entries are skipped. Each of ``hosts`` (every host the play
    expected) without a result is a ``failed`` row saying no result was recorded."""
    _need_jmespath()
    given = []
    for index, entry in enumerate(results or []):
        if entry is None:
            continue
        where = "results[{0}]".format(index)
        if not isinstance(entry, dict) or not entry.get("host"):
            raise InputError(where, entry, "is not a per-host result with a host", "give {host, result, ...}")
        if entry.get("result") not in RESULTS:
            raise InputError(where + ".result", entry.get("result"), "is not a result",
                             "use one of " + ", ".join(RESULTS))
        for key in ("instance", "gitlab_version", "tag_before", "tag_after", "why"):
            _text(entry, key, where)
        duration = entry.get("duration_s")
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))
                                     or duration < 0):
            raise InputError(where + ".duration_s", duration, "is not a number of seconds", "give seconds, e.g. 42.5")
        logs = entry.get("logs")
        if logs is not None and (not isinstance(logs, list) or not all(isinstance(line, str) for line in logs)):
            raise InputError(where + ".logs", logs, "is not a list of log lines", "give a list of strings")
        given.append(entry)
    seen = {entry["host"] for entry in given}
    missing = [dict(host=host, result="failed", why=NO_RESULT) for host in hosts or [] if host not in seen]
    return UPGRADE_ROWS.search(given + missing)


def _version_or_none(instance, version):
    if version in (None, ""):
        return None
    return parse_gitlab_version(version, field="instances.{0}".format(instance))


def skew_rows(gateways, instances):
    """Rows {host, instance, instance_version, gateway_tag, state, why}: one per gateway and instance it serves
    (``gateways``: [{host, instances: [names], current_image, error}], ``error`` when reading the host failed), then
    one ``no_gateway`` row per instance of ``instances`` ({name: version or None}) that no gateway serves."""
    _need_jmespath()
    if not isinstance(instances, dict):
        raise InputError("instances", instances, "is not a mapping", "give {instance name: GitLab version}")
    versions = {name: _version_or_none(name, version) for name, version in instances.items()}
    rows = []
    for index, gateway in enumerate(gateways or []):
        where = "gateways[{0}]".format(index)
        if not isinstance(gateway, dict) or not gateway.get("host"):
            raise InputError(where, gateway, "is not a gateway entry with a host",
                             "give {host, instances: [names], current_image}")
        names = gateway.get("instances") or []
        if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
            raise InputError(where + ".instances", names, "is not a list of instance names",
                             "give the names of the gitlab hosts it serves")
        _text(gateway, "current_image", where)
        served = [(name, versions.get(name)) for name in names]
        for name in names or [None]:
            version = versions.get(name)
            row = dict(host=gateway["host"], instance=name, instance_version=instances.get(name) or None)
            if gateway.get("error"):
                row.update(state="unknown", gateway_tag=None,
                           why="reading the gateway failed: {0}".format(gateway["error"]))
            elif name is None:
                row.update(state="unknown", gateway_tag=None, why="the gateway names no instance it serves. Fix: "
                           "set ai_gateway_gitlab_instance")
            else:
                row.update(skew_state(gateway.get("current_image"), name, version, served))
            rows.append(row)
    covered = set(SERVED.search(gateways or []) or [])
    rows += [dict(host=None, instance=name, instance_version=version or None, gateway_tag=None, state="no_gateway",
                  why=NO_GATEWAY) for name, version in sorted(instances.items()) if name not in covered]
    return SKEW_ORDER.search(rows)


def sliced(rows, query):
    """``rows`` after the operator's JMESPath ``query`` (none: all of them); InputError naming report_query for an
    expression that does not parse, fails on the rows, or gives something other than a list of rows."""
    if not query:
        return rows
    try:
        found = jmespath.search(query, rows)
    except JMESPathError as exc:
        raise InputError(QUERY_FIELD, query, "is not a JMESPath expression that applies to the rows ({0})".format(
            " ".join(str(exc).split())), "filter the rows, e.g. \"[?result=='rolled_back']\" or \"[?state!='matches']\"")
    if found is None:
        found = []
    if not isinstance(found, list) or not all(isinstance(row, dict) for row in found):
        raise InputError(QUERY_FIELD, query, "gives {0}, not a list of rows".format(json.dumps(found)[:80]),
                         "end the expression with the rows or a projection of them, e.g. \"[?result=='rolled_back']\" "
                         "or \"[?state!='matches'].{host: host, why: why}\"")
    return found


def totals(kind, rows):
    """{value: count} of the kind's total field over ``rows`` (every value, zeros too), counted with JMESPath."""
    field, values = TOTALS[kind]
    return {value: jmespath.search("length([?{0}==`{1}`])".format(field, json.dumps(value)), rows) for value in values}


def _cell(value):
    return re.sub(r"\s+", " ", str(value if value is not None else "-")).replace("|", "/")


def markdown(kind, name, rows, total, query=None, before=None):
    """The Markdown page: a title, the query when one sliced the rows, the table, the totals line and, for the
    upgrade, the last log lines of the hosts that carry them."""
    lines = ["# {0}: {1}".format(TITLES[kind], name), ""]
    if query:
        lines += ["Rows matching `{0}`: {1} of {2}.".format(query.replace("`", "'"), len(rows), before), ""]
    columns = COLUMNS[kind]
    keys = {"upgrade": ("host", "result", "why"), "skew": ("host", "state", "why")}[kind]
    standard = all(all(key in row for key in keys) for row in rows)
    if not standard:
        names = []
        for row in rows:
            names += [key for key in row if key not in names]
        columns = [(key, lambda row, key=key: json.dumps(row[key]) if isinstance(row.get(key), (dict, list))
                    else row.get(key)) for key in names]
    if rows:
        lines += ["| " + " | ".join(heading for heading, _show in columns) + " |",
                  "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(_cell(show(row)) for _heading, show in columns) + " |" for row in rows]
    else:
        lines.append("No rows.")
    lines.append("")
    if total is not None:
        lines += ["Totals: " + ", ".join("{0} {1}".format(count, value) for value, count in total.items()), ""]
    logged = [row for row in rows if row.get("logs")] if kind == "upgrade" else []
    if logged:
        lines += ["## Last log lines", ""]
        for row in logged:
            lines += ["### {0} ({1})".format(row.get("host"), row.get("result")), ""]
            lines += ["    " + line.rstrip("\n") for line in row["logs"]] + [""]
    return "\n".join(lines)


def build(params):
    """(rows before the query, rows after it) for the module's parameters."""
    kind = params["table"]
    if kind == "upgrade":
        if params["results"] is None:
            raise InputError("results", None, "is required for table=upgrade", "give the per-host upgrade results")
        rows = upgrade_rows(params["results"], params["hosts"])
    else:
        if params["gateways"] is None or params["instances"] is None:
            raise InputError("gateways" if params["gateways"] is None else "instances", None,
                             "is required for table=skew", "give gateways (per gateway host) and instances "
                             "({name: version})")
        rows = skew_rows(params["gateways"], params["instances"])
    return rows, sliced(rows, params["query"])


def run(params):
    """The fleet_report module's answer: the rows (after the query), their totals and Markdown, and the two files
    written to ``report_dir`` (``<report_name>.md`` and ``.json``, mode 0600)."""
    _need_jmespath()
    kind = params["table"]
    name = params["report_name"] or "{0}-report".format(kind)
    secrets = list(params["secrets"] or [])
    everything, rows = build(params)
    keys = {"upgrade": "result", "skew": "state"}[kind]
    total = totals(kind, rows) if all(keys in row for row in rows) else None
    everything, rows = scrub(everything, secrets), scrub(rows, secrets)
    page = markdown(kind, name, rows, total, params["query"], len(everything))
    document = dict(kind=kind, name=name, query=params["query"] or None, rows=rows, totals=total,
                    rows_before_query=len(everything))
    os.makedirs(params["report_dir"], mode=0o700, exist_ok=True)
    base = os.path.join(params["report_dir"], file_stem(name))
    paths = []
    for path, text in ((base + ".md", page), (base + ".json", json.dumps(document, indent=2, sort_keys=True) + "\n")):
        write_private(path, text)
        paths.append(path)
    return dict(changed=False, rows=rows, totals=total, markdown=page, paths=paths)
