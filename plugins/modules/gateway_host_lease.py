#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_host_lease
short_description: Hold a gateway host for one playbook run, so that two runs never interleave their changes
version_added: 0.1.0
description:
  - A lease is a file in the host's lock directory (C(/run/lock/gitlab_duo.self_hosted/lease-<name>.json), mode
    0600) that names the run holding it (O(run_id), O(playbook), O(control_node), O(control_pid), O(control_user)),
    when it started and when it expires, and what it covers - gateway containers (O(name) and O(containers)) and
    proxy directories (O(proxy_dirs)).
  - The playbooks take it on each gateway host at the start of the plays that change the gateway or its proxy and
    give it back at the end (the ai_gateway role's C(lease) tasks). While a live lease of one run covers a container
    or a proxy directory, M(gitlab_duo.self_hosted.gateway_container), M(gitlab_duo.self_hosted.nginx_proxy) and
    M(gitlab_duo.self_hosted.tls_certificate) of any other run wait (their C(lock_timeout)), then fail naming the
    holder; the holder's own calls (their C(run_id)) renew it.
  - V(held) takes the lease, or renews it when this run holds it already; while another run's live lease has the
    same name or covers any of the same things, it waits up to O(lock_timeout) seconds, then fails naming that run
    and how to go on. An expired lease (a run that was killed gives none back) is taken over, and so is a live one
    of O(break_run); RV(taken_over) says whose.
  - V(released) gives the lease back when O(run_id) holds it, and leaves another run's alone (reported in
    RV(holder)).
  - Reports C(changed=false) - a lease is coordination between runs, not configuration. In check mode it writes
    nothing and waits for nothing; RV(held) and RV(holder) say whether a run could take it now.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.docker.gateway
  - gitlab_duo.self_hosted.attributes
attributes:
  check_mode:
    support: full
    details: Reads the leases; writes and waits for nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Taking a lease again renews it; it always reports C(changed=false).
options:
  state:
    description: V(held) takes or renews the lease; V(released) gives it back.
    type: str
    choices: [held, released]
    default: held
  run_id:
    description:
      - The playbook run that holds the lease (the playbooks make one per run, C(ai_gateway_run.id)) - letters,
        digits and the characters C(_.:@+-).
      - The changing modules are given the same id (their C(run_id)), so the run's own changes go ahead.
    type: str
    required: true
  playbook:
    description: The playbook of the run, shown to other runs that wait for the lease.
    type: str
  control_node:
    description: The control node the run was started on (its host name), shown to other runs.
    type: str
  control_pid:
    description:
      - The process of the run on the control node (C(ansible-playbook)). The ai_gateway role's lease tasks take a
        lease over at once (O(break_run)) when the run holding it was started on the same control node and that
        process is gone.
    type: int
  control_user:
    description: Who started the run, shown to other runs.
    type: str
  containers:
    description:
      - Further gateway containers on this host the run changes, besides O(name) (the upgrade's gateway started
        beside the old one, C(<name>-surge)).
    type: list
    elements: str
    default: []
  proxy_dirs:
    description: Proxy directories on this host the run changes (the TLS proxy's C(tls_proxy_dir)).
    type: list
    elements: path
    default: []
  ttl:
    description:
      - Seconds the lease lasts after it was taken or last renewed. A run that was killed gives its lease back
        never; it blocks other runs this long at most. Renewed by each change of the holding run on the host, so
        make it longer than the longest time the run leaves the host alone (a drain, other hosts' tasks).
      - 10 to 604800.
    type: int
    default: 3600
  break_run:
    description:
      - Take the lease over even though it is live, when O(break_run) holds it - for a run known to be gone
        (stopped with Ctrl-C, killed, its control node lost). Never the lease of any other run.
    type: str
  lock_timeout:
    description: Seconds V(held) waits while another run holds the lease, then fails naming that run.
    type: int
    default: 300
"""

EXAMPLES = r"""
- name: Hold this gateway host for the run
  gitlab_duo.self_hosted.gateway_host_lease:
    name: gitlab-ai-gateway
    run_id: "{{ ai_gateway_run.id }}"
    playbook: install.yml
    containers: [gitlab-ai-gateway-surge]
    proxy_dirs: [/etc/gitlab-ai-gateway/proxy]

- name: Give it back
  gitlab_duo.self_hosted.gateway_host_lease:
    name: gitlab-ai-gateway
    run_id: "{{ ai_gateway_run.id }}"
    state: released

- name: Take over the lease of a run that was killed
  gitlab_duo.self_hosted.gateway_host_lease:
    name: gitlab-ai-gateway
    run_id: "{{ ai_gateway_run.id }}"
    break_run: 20261124T101500Z-k3v9q2xa
"""

RETURN = r"""
held:
  description: This run holds the lease now (in check mode - could take it now).
  returned: state=held
  type: bool
lease:
  description:
    - The lease as written (or given back) - C(run_id), C(playbook), C(control_node), C(control_pid),
      C(control_user), C(started_at), C(expires_at), C(expires_in) (seconds), C(ttl), C(covers), C(path).
  returned: when this run holds or held it
  type: dict
holder:
  description: The live lease of another run that keeps this run from taking it, or that was left alone on release.
  returned: always
  type: dict
taken_over:
  description: Leases of other runs this one replaced, each with C(why) - V(expired) or V(broken) (O(break_run)).
  returned: state=held
  type: list
  elements: dict
released:
  description: The lease of this run was given back.
  returned: state=released
  type: bool
path:
  description: The lease file.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.container import GATEWAY_NAME_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import (
    LOCK_TIMEOUT_OPTION, RUN_ID_OPTION, manage_lease)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=GATEWAY_NAME_OPTION,
            state=dict(type="str", default="held", choices=["held", "released"]),
            run_id=dict(RUN_ID_OPTION, required=True),
            playbook=dict(type="str"),
            control_node=dict(type="str"),
            control_pid=dict(type="int"),
            control_user=dict(type="str"),
            containers=dict(type="list", elements="str", default=[]),
            proxy_dirs=dict(type="list", elements="path", default=[]),
            ttl=dict(type="int", default=3600),
            break_run=dict(type="str"),
            lock_timeout=LOCK_TIMEOUT_OPTION,
        ),
        supports_check_mode=True,
    )
    respond(module, manage_lease, module.params, module.check_mode)


if __name__ == "__main__":
    main()
