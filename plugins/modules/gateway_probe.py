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
  - gitlab_duo.self_hosted.http_options
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
  headers:
    description: Extra request headers (values are treated as secrets).
    type: dict
  label:
    description: A label for the result (which path this probe tests). The alias O(name) is deprecated.
    type: str
    aliases: [name]
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
    label: gitlab_to_gateway
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
label:
  description: The label given in O(label).
  returned: always
  type: str
name:
  description: The label given in O(label) (kept for playbooks written before O(label); use RV(label)).
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.probe import run
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import HTTP_OPTIONS


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            kind=dict(type="str", default="gateway", choices=["gateway", "http"]),
            expect_status=dict(type="int", default=200),
            expect_body=dict(type="str"),
            retries=dict(type="int", default=3),
            delay=dict(type="float", default=2),
            headers=dict(type="dict", no_log=True),
            label=dict(type="str", aliases=["name"], deprecated_aliases=[
                dict(name="name", version="1.0.0", collection_name="gitlab_duo.self_hosted")]),
            min_days_left=dict(type="int", default=7),
            fail_on_error=dict(type="bool", default=True),
            **HTTP_OPTIONS
        ),
        supports_check_mode=True,
    )
    respond(module, run, module.params)


if __name__ == "__main__":
    main()
