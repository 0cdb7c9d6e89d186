#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_report
short_description: Write the fleet's upgrade table or version skew table as Markdown and JSON
version_added: 0.1.0
description:
  - Runs on the control node. Builds one table from per-host results with JMESPath, optionally slices it with
    O(query), and writes C(<report_name>.md) and C(<report_name>.json) (mode 0600) to O(report_dir).
  - O(table=upgrade) - one row per gateway host from O(results) - host, instance (version), tag before -> after,
    result, why, duration - and a totals line per result. Each host of O(hosts) without a result is a V(failed) row
    whose why is C(no result recorded (the host failed earlier; see the play output)). The last log lines of a host
    (C(logs)) follow the table.
  - O(table=skew) - one row per gateway host and instance it serves - host, instance, instance version, gateway tag,
    state, why - where state is V(matches) (the tag's major.minor is the instance's), V(lags), V(leads), V(skew)
    (the gateway serves instances on different minors), V(unknown) (digest only, nightly, latest, a version not
    known, or reading the host failed) or V(not_installed); then one V(no_gateway) row per instance of
    O(instances) that no gateway serves.
  - A name that is not made only of letters, digits, C(_), C(.) and C(-) gets the others replaced by C(_) and a
    short hash of the name appended, so C(prod/eu) and C(prod_eu) never share a file.
  - Every string is redacted on the way out - the literal O(secrets) and anything shaped like a credential.
  - Writes only its report files, also in check mode; reports C(changed=false), as it changes nothing managed.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
requirements:
  - jmespath (on the control node; in the collection's requirements.txt)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes.read_only
options:
  table:
    description:
      - Which table (alias C(kind)).
    type: str
    choices: [upgrade, skew]
    required: true
    aliases: [kind]
  report_dir:
    description: Directory for the report files (created, mode 0700, when missing).
    type: path
    required: true
  report_name:
    description: File name (without extension) and title of the report; V(<table>-report) when omitted.
    type: str
  results:
    description:
      - O(table=upgrade) - one entry per gateway host - C(host), C(instance), C(gitlab_version), C(tag_before),
        C(tag_after), C(result) (V(upgraded), V(already_current), V(rolled_back), V(failed) or V(skipped)), C(why),
        C(duration_s) and optionally C(logs) (a list of lines).
    type: list
    elements: dict
  hosts:
    description:
      - O(table=upgrade) - every host the play expected a result from (C(ansible_play_hosts_all)); those without one
        in O(results) are reported as V(failed).
    type: list
    elements: str
    default: []
  gateways:
    description:
      - O(table=skew) - one entry per gateway host - C(host), C(instances) (the names of the GitLab instances it
        serves), C(current_image) (its container's C(Config.Image), null when there is none) and, when reading the
        host failed, C(error).
    type: list
    elements: dict
  instances:
    description:
      - O(table=skew) - every GitLab instance, name to GitLab version (V(18.2.1-ee)); null when the version is not known.
    type: dict
  query:
    description:
      - A JMESPath expression applied to the rows before they are written and returned, for example
        V([?result=='rolled_back']) or V([?state!='matches']). It must give a list of rows (or of projections of
        them); a projection is written with its own columns. A bad expression fails naming C(report_query).
    type: str
  secrets:
    description: Values that must appear nowhere in the report (from log lines).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Write the upgrade table (every host of the play, also those that failed before recording a result)
  gitlab_duo.self_hosted.fleet_report:
    table: upgrade
    report_dir: ./duo-reports
    results: "{{ ansible_play_hosts_all | map('extract', hostvars, 'ai_gateway_upgrade_result') | select('defined') }}"
    hosts: "{{ ansible_play_hosts_all }}"
    query: "{{ report_query | default(omit) }}"
  run_once: true
  delegate_to: localhost

- name: Write the version skew table
  gitlab_duo.self_hosted.fleet_report:
    table: skew
    report_dir: ./duo-reports
    gateways:
      - host: aigw-1.example.com
        instances: [gitlab.example.com]
        current_image: registry.gitlab.com/.../model-gateway:self-hosted-v18.2.10-ee@sha256:4f1c...
    instances:
      gitlab.example.com: 18.3.1-ee
    query: "[?state!='matches']"
  delegate_to: localhost
"""

RETURN = r"""
rows:
  description:
    - The table's rows after O(query). O(table=upgrade) - host, instance, gitlab_version, tag_before, tag_after,
      result, why, duration_s, logs. O(table=skew) - host, instance, instance_version, gateway_tag, state, why.
  returned: always
  type: list
  elements: dict
totals:
  description: Rows per result (upgrade) or per state (skew), every value listed; null when O(query) projected the
    rows to other fields.
  returned: always
  type: dict
  sample: {"upgraded": 3, "already_current": 5, "rolled_back": 1, "failed": 0, "skipped": 0}
markdown:
  description: The Markdown page written.
  returned: always
  type: str
paths:
  description: The files written - C(<report_dir>/<report_name>.md) and C(.json).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.fleet_report import KINDS, run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            table=dict(type="str", required=True, choices=list(KINDS), aliases=["kind"]),
            report_dir=dict(type="path", required=True),
            report_name=dict(type="str"),
            results=dict(type="list", elements="dict"),
            hosts=dict(type="list", elements="str", default=[]),
            gateways=dict(type="list", elements="dict"),
            instances=dict(type="dict"),
            query=dict(type="str"),
            secrets=dict(type="list", elements="str", default=[], no_log=True),
        ),
        required_if=[("table", "upgrade", ("results",)), ("table", "skew", ("gateways", "instances"))],
        supports_check_mode=True,
    )
    respond(module, run, module.params)


if __name__ == "__main__":
    main()
