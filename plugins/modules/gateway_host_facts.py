#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_host_facts
short_description: Gather what a gateway host must satisfy before the AI Gateway is installed
version_added: 0.1.0
description:
  - Reports the Docker engine (reachable, version, architecture, root directory and its free space), the host's
    memory, whether the gateway's port is free or held by the gateway container itself, and whether the gateway
    hostname resolves and is not localhost, and the free space where archives of an air-gap bundle are staged.
  - The preflight role turns these facts into assertions with remedies. Changes nothing.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.docker
  - gitlab_duo.self_hosted.attributes.read_only
  - gitlab_duo.self_hosted.docker.bind_address
options:
  container_name:
    description: Name of the gateway container (a port it holds counts as ours).
    type: str
    default: gitlab-ai-gateway
  port:
    description: Host port the gateway will publish; omit for host networking or no published port.
    type: int
  proxy_ports:
    description: Host ports the TLS proxy will publish (80 and 443); a port held by O(proxy_container_name) counts as ours.
    type: list
    elements: int
    default: []
  proxy_container_name:
    description: Name of the TLS proxy's container.
    type: str
    default: gitlab-ai-gateway-proxy
  proxy_bind_address:
    description: Address the proxy's ports bind to.
    type: str
    default: 0.0.0.0
  hostname:
    description: The gateway's hostname as GitLab will use it.
    type: str
  staging_dir:
    description:
      - Where archives of an air-gap bundle are staged before they are loaded; its free space (or its nearest existing
        parent's, when it does not exist yet) is reported.
    type: path
"""

EXAMPLES = r"""
- name: Facts for preflight
  gitlab_duo.self_hosted.gateway_host_facts:
    port: 5052
    hostname: ai-gateway.example.com
  register: gateway_host
"""

RETURN = r"""
docker:
  description: reachable, error, version, architecture, root_dir, root_free_bytes.
  returned: always
  type: dict
memory_bytes:
  description: Total memory of the host.
  returned: always
  type: int
port:
  description: number, in_use, owner (container publishing it), ours (held by O(container_name)).
  returned: when O(port) is given
  type: dict
proxy_ports:
  description: One entry per O(proxy_ports) - number, in_use, owner, ours.
  returned: always
  type: list
  elements: dict
hostname:
  description: name, is_local, resolves, addresses.
  returned: when O(hostname) is given
  type: dict
staging:
  description: path, exists, free_bytes (of the directory or its nearest existing parent).
  returned: when O(staging_dir) is given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import (
    BIND_ADDRESS_OPTION, DOCKER_HOST_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.container import DEFAULT_GATEWAY_NAME
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.host_facts import collect
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.nginx import PROXY_NAME_OPTION


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_name=dict(type="str", default=DEFAULT_GATEWAY_NAME),
            port=dict(type="int"),
            bind_address=BIND_ADDRESS_OPTION,
            proxy_ports=dict(type="list", elements="int", default=[]),
            proxy_container_name=PROXY_NAME_OPTION,
            proxy_bind_address=dict(type="str", default="0.0.0.0"),
            hostname=dict(type="str"),
            staging_dir=dict(type="path"),
            docker_host=DOCKER_HOST_OPTION,
        ),
        supports_check_mode=True,
    )
    respond(module, collect, module.params)


if __name__ == "__main__":
    main()
