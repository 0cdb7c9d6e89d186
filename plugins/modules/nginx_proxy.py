#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nginx_proxy
short_description: Run NGINX in a container in front of the AI Gateway, changing its configuration safely
version_added: 0.1.0
description:
  - Runs the NGINX container on the Docker network it shares with the gateway, publishing the HTTP and HTTPS
    ports; O(proxy_dir) (configuration, C(certs/), C(webroot/)) is mounted read-only at C(/etc/nginx/duo).
  - A changed O(config) is first tested with C(nginx -t) in a throwaway container with the same image, mounts
    and network. Only when it passes does it replace the running configuration, and NGINX reloads (no restart,
    no dropped connections). A configuration that fails leaves the running one serving, and the task fails with
    NGINX's own message.
  - A changed image, network, port or restart policy recreates the container.
  - With O(runtime=host) NGINX from the host's packages runs O(proxy_dir)/nginx.conf instead - tested with the
    host's C(nginx -t), then started or reloaded with O(host_commands) (systemctl for a systemd unit) or, by
    default, by running C(nginx -c) directly.
  - O(state=reloaded) reloads NGINX even when nothing changed (after a certificate renewal).
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.lock
  - gitlab_duo.self_hosted.lock.lease
  - gitlab_duo.self_hosted.docker
  - gitlab_duo.self_hosted.docker.container
  - gitlab_duo.self_hosted.docker.registry_auth
  - gitlab_duo.self_hosted.attributes
  - gitlab_duo.self_hosted.docker.bind_address
attributes:
  check_mode:
    support: full
    details: Tests a changed configuration with nginx -t, then reports; writes and starts nothing.
  diff_mode:
    support: full
    details: The configuration text and the container settings before and after.
  idempotent:
    support: full
options:
  runtime:
    description:
      - V(container) runs NGINX in a container; V(host) uses NGINX from the host's packages.
      - The alias O(mode) is deprecated (it meant something else in M(gitlab_duo.self_hosted.tls_certificate)).
    type: str
    choices: [container, host]
    default: container
    aliases: [mode]
  host_commands:
    description:
      - O(runtime=host) - commands (lists) to C(start), C(reload) and ask the C(status) of NGINX, e.g.
        C(start=[systemctl, start, gitlab-ai-gateway-proxy]). Missing ones run C(nginx -c <proxy_dir>/nginx.conf)
        directly and read the pid file.
    type: dict
  pid_file:
    description: O(runtime=host) - the pid file the configuration names; C(<proxy_dir>/nginx.pid) by default.
    type: path
  proxy_container_name:
    description: The proxy's container name (O(runtime=container)). The alias O(name) is deprecated.
    type: str
    default: gitlab-ai-gateway-proxy
    aliases: [name]
  state:
    description: V(present), V(reloaded) (also reload when nothing changed), or V(absent).
    type: str
    choices: [present, reloaded, absent]
    default: present
  image:
    description: NGINX image (pin a version).
    type: str
  network:
    description: User-defined Docker network shared with the gateway container (created when missing); O(runtime=container).
    type: str
  proxy_dir:
    description: Host directory with the configuration, C(certs/) and C(webroot/).
    type: path
  config:
    description: The full NGINX configuration (paths under C(/etc/nginx/duo)).
    type: str
  http_port:
    description: Host port for HTTP (ACME challenges and the redirect to HTTPS).
    type: int
    default: 80
  https_port:
    description: Host port for HTTPS.
    type: int
    default: 443
  drain_timeout:
    description:
      - After a reload, wait up to this many seconds until every NGINX worker that ran before it has exited, that
        is until every request in flight at the reload (a streamed answer too) has ended; 0 does not wait.
      - Used by the upgrade to know that no request still goes to the container it is about to stop. NGINX's
        C(worker_shutdown_timeout) bounds how long such a worker may take.
    type: int
    default: 0"""

EXAMPLES = r"""
- name: NGINX in front of the gateway
  gitlab_duo.self_hosted.nginx_proxy:
    image: docker.io/library/nginx:1.27-alpine
    network: gitlab-ai-gateway
    proxy_dir: /etc/gitlab-ai-gateway/nginx
    config: "{{ lookup('ansible.builtin.template', 'nginx.conf.j2') }}"

- name: NGINX's image from the organisation's registry mirror, which requires a login
  gitlab_duo.self_hosted.nginx_proxy:
    image: mirror.internal.example.com:5443/library/nginx:1.27-alpine
    registry_username: duo-pull
    registry_password: "{{ vault_mirror_password }}"
    network: gitlab-ai-gateway
    proxy_dir: /etc/gitlab-ai-gateway/nginx
    config: "{{ lookup('ansible.builtin.template', 'nginx.conf.j2') }}"
"""

RETURN = r"""
config_changed:
  description: The configuration was (or would be) replaced.
  returned: success
  type: bool
container_changed:
  description: The container was (or would be) created or recreated.
  returned: success
  type: bool
reloaded:
  description: NGINX reloaded its configuration.
  returned: success
  type: bool
container:
  description: name, id, status of the proxy container.
  returned: success, unless O(state=absent)
  type: dict
drain:
  description:
    - After a reload with O(drain_timeout) - C(drained) (every old worker exited), C(seconds) waited and
      C(old_workers) still running when the wait ended.
  returned: when NGINX reloaded and O(drain_timeout) is set
  type: dict
  sample: {"drained": true, "seconds": 18.5, "old_workers": 0}
nginx_error:
  description: What nginx -t said about a rejected configuration.
  returned: when the configuration was rejected
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import LOCK_TIMEOUT_OPTION, RUN_ID_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import (
    BIND_ADDRESS_OPTION, DOCKER_HOST_OPTION, LABELS_OPTION, PULL_OPTION, REGISTRY_PASSWORD_OPTION,
    REGISTRY_USERNAME_OPTION, RESTART_POLICY_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.nginx import PROXY_NAME_OPTION, reconcile


def main():
    module = AnsibleModule(
        argument_spec=dict(
            lock_timeout=LOCK_TIMEOUT_OPTION,
            run_id=RUN_ID_OPTION,
            runtime=dict(type="str", default="container", choices=["container", "host"], aliases=["mode"],
                         deprecated_aliases=[dict(name="mode", version="1.0.0", collection_name="gitlab_duo.self_hosted")]),
            host_commands=dict(type="dict"),
            pid_file=dict(type="path"),
            proxy_container_name=dict(PROXY_NAME_OPTION, aliases=["name"], deprecated_aliases=[
                dict(name="name", version="1.0.0", collection_name="gitlab_duo.self_hosted")]),
            state=dict(type="str", default="present", choices=["present", "reloaded", "absent"]),
            image=dict(type="str"),
            network=dict(type="str"),
            proxy_dir=dict(type="path"),
            config=dict(type="str"),
            http_port=dict(type="int", default=80),
            https_port=dict(type="int", default=443),
            drain_timeout=dict(type="int", default=0),
            bind_address=BIND_ADDRESS_OPTION,
            restart_policy=RESTART_POLICY_OPTION,
            pull=PULL_OPTION,
            registry_username=REGISTRY_USERNAME_OPTION,
            registry_password=REGISTRY_PASSWORD_OPTION,
            labels=LABELS_OPTION,
            docker_host=DOCKER_HOST_OPTION,
        ),
        required_together=[("registry_username", "registry_password")],
        required_if=[("state", "present", ("proxy_dir", "config")), ("state", "reloaded", ("proxy_dir", "config"))],
        supports_check_mode=True,
    )
    respond(module, reconcile, module.params, module.check_mode, module.run_command)


if __name__ == "__main__":
    main()
