# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The lock_timeout option of every module that changes a gateway, its image or a proxy directory
    # (module_utils/_lock.py LOCK_TIMEOUT_OPTION); LEASE (gitlab_duo.self_hosted.lock.lease): the run_id option of
    # those that honour a playbook run's lease (RUN_ID_OPTION).
    DOCUMENTATION = r"""
options:
  lock_timeout:
    description:
      - Two runs on one host never change the same gateway container (or the same proxy directory) at once - the
        second waits for the first, at most this many seconds, then fails naming the lock and its holder. Not taken
        in check mode. The lock goes with its process, so a killed run leaves none behind.
      - The same wait applies while a live lease of another playbook run covers what the module changes (see
        M(gitlab_duo.self_hosted.gateway_host_lease)); the failure then names that run.
    type: int
    default: 300
"""

    LEASE = r"""
options:
  run_id:
    description:
      - The playbook run this call belongs to (the playbooks pass C(ai_gateway_run.id)). A lease of this run that
        covers what the module changes lets it go ahead and is renewed; a live lease of another run makes it wait
        (O(lock_timeout)). Without it, every live lease counts as another run's.
    type: str
"""
