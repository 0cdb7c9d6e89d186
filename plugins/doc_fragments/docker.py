# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # How a module reaches the Docker engine on the gateway host.
    DOCUMENTATION = r"""
options:
  docker_host:
    description: Docker engine address; defaults to C(DOCKER_HOST) or the local socket.
    type: str
requirements:
  - docker (the Docker SDK for Python) on the gateway host
"""

    # The gateway container the module works on (module_utils/_gateway/container.py GATEWAY_NAME_OPTION).
    GATEWAY = r"""
options:
  name:
    description: Gateway container name.
    type: str
    default: gitlab-ai-gateway
"""

    # BIND_ADDRESS_OPTION: where a published port listens on the host.
    BIND_ADDRESS = r"""
options:
  bind_address:
    description: Host address the published port(s) bind to; V(127.0.0.1) keeps them off the network.
    type: str
    default: 0.0.0.0
"""

    # The policies of a container the module runs (gateway, proxy).
    CONTAINER = r"""
options:
  restart_policy:
    description: Docker restart policy.
    type: str
    choices: ['no', always, unless-stopped, on-failure]
    default: always
  pull:
    description: V(missing) pulls only an image not on the host, V(always) checks for a newer one, V(never) requires it loaded.
    type: str
    choices: [missing, always, never]
    default: missing
  labels:
    description: Extra container labels.
    type: dict
    default: {}
"""

    # REGISTRY_USERNAME_OPTION / REGISTRY_PASSWORD_OPTION: credentials for the pull (an internal registry mirror).
    REGISTRY_AUTH = r"""
options:
  registry_username:
    description:
      - User for the registry the image is pulled from (an internal mirror that requires a login); anonymous when
        omitted.
      - Sent to the Docker engine with the pull (the SDK's C(auth_config)), never on a command line; nothing is
        stored on the host (no C(docker login)).
    type: str
  registry_password:
    description: Password or token of O(registry_username). Never shown.
    type: str
"""
