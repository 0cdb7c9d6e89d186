#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_probe
short_description: Probe the AI Gateway (or any URL) over HTTP(S) with retries
version_added: 0.1.0
description:
  - With O(kind=gateway), O(url) is the gateway's base URL and two probes run - C(/monitoring/healthz) must
    answer 200 (it has no auth and no dependencies) and the root must answer 401 C(No authorization header
    presented), the answer of a gateway that serves.
  - With O(kind=http), one GET of O(url) must answer O(expect_status) (and contain O(expect_body)).
  - Run it from wherever the path matters - the control node, the gateway host, or the GitLab host
    (C(delegate_to)) for the GitLab to gateway check.
  - Returns structured results that the verify role and the troubleshooting report reuse. Changes nothing.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
requirements:
  - requests
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes.read_only
options:
  url:
    description: The gateway's base URL (O(kind=gateway)) or the URL to GET (O(kind=http)).
    type: str
    required: true
  kind:
    description: V(gateway) for the gateway's health pair, V(http) for one URL.
    type: str
    choices: [gateway, http]
    default: gateway
  expect_status:
    description: Expected HTTP status (O(kind=http)).
    type: int
    default: 200
  expect_body:
    description: Text the answer must contain (O(kind=http)).
    type: str
  retries:
    description: Further attempts after a failed one.
    type: int
    default: 3
  delay:
    description: Seconds between attempts.
    type: float
    default: 2
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 5
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  ca_path:
    description: CA bundle to verify with.
    type: path
  headers:
    description: Extra request headers (values are treated as secrets).
    type: dict
  name:
    description: A label for the result (which path this probe tests).
    type: str
  min_days_left:
    description:
      - For C(https://) URLs, the certificate must be trusted (O(ca_path) or the system's CA store), match the
        host name and have at least this many days left.
    type: int
    default: 7
  fail_on_error:
    description: Fail the task when a probe fails; otherwise return C(ok=false).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: GitLab host can reach the gateway
  gitlab_duo.self_hosted.gateway_probe:
    url: https://ai-gateway.example.com
    name: gitlab_to_gateway
  delegate_to: gitlab.example.com

- name: One URL, no failure, for a report
  gitlab_duo.self_hosted.gateway_probe:
    kind: http
    url: http://ai-gateway.example.com:5052/monitoring/healthz
    fail_on_error: false
  register: probe
"""

RETURN = r"""
ok:
  description: Every probe passed.
  returned: always
  type: bool
name:
  description: The label given in O(name).
  returned: always
  type: str
probes:
  description: One result per probe - url, expect_status, status, ok, error, attempts, elapsed_ms, body (excerpt).
  returned: always
  type: list
  elements: dict
problems:
  description: What failed, one line each (empty when RV(ok)).
  returned: always
  type: list
  elements: str
tls:
  description:
    - The server certificate of an C(https://) URL - verified (trusted and matching the host name), error, names,
      not_after, days_left, issuer, subject, serial, protocol.
  returned: for https URLs
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import (
    HAS_REQUESTS, UNAUTHENTICATED_ANSWER, probe, tls_details)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import http_url


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            kind=dict(type="str", default="gateway", choices=["gateway", "http"]),
            expect_status=dict(type="int", default=200),
            expect_body=dict(type="str"),
            retries=dict(type="int", default=3),
            delay=dict(type="float", default=2),
            timeout=dict(type="int", default=5),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            headers=dict(type="dict", no_log=True),
            name=dict(type="str"),
            min_days_left=dict(type="int", default=7),
            fail_on_error=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    params = module.params
    try:
        url = http_url("url", params["url"])
    except DuoError as exc:
        exc.fail(module)
    if params["kind"] == "gateway":
        targets = [(url + "/monitoring/healthz", 200, None), (url + "/", 401, UNAUTHENTICATED_ANSWER)]
    else:
        targets = [(params["url"], params["expect_status"], params["expect_body"])]
    verify = (params["ca_path"] or True) if params["validate_certs"] else False
    probes = [probe(target, status, body, params["retries"], params["delay"], params["timeout"], verify,
                    params["headers"]) for target, status, body in targets]
    ok = all(result["ok"] for result in probes)
    result = dict(changed=False, ok=ok, probes=probes, name=params["name"])
    problems = ["{0}: {1}".format(p["url"], p["error"]) for p in probes if not p["ok"]]
    if url.startswith("https://"):
        tls = tls_details(url, params["ca_path"] if params["validate_certs"] else None, params["timeout"])
        result["tls"] = tls
        if params["validate_certs"] and not tls["verified"]:
            problems.append("TLS: {0}".format(tls["error"]))
        elif tls.get("days_left") is not None and tls["days_left"] < params["min_days_left"]:
            problems.append("TLS: the certificate expires in {0} days ({1}); renew it (playbooks/renew.yml)".format(
                tls["days_left"], tls["not_after"]))
        result["ok"] = ok = ok and not problems
    result["problems"] = problems
    if not ok and params["fail_on_error"]:
        module.fail_json(msg="Probe {0}failed: {1}".format(
            "'{0}' ".format(params["name"]) if params["name"] else "", "; ".join(problems)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
