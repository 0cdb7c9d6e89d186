#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_container
short_description: Run the GitLab AI Gateway container as declared, and prove it is healthy
version_added: 0.1.0
description:
  - Creates, updates, restarts or removes the AI Gateway container with the Docker SDK.
  - Derives the gateway's environment from O(gitlab_url) (C(AIGW_GITLAB_URL), C(AIGW_GITLAB_API_URL),
    C(AIGW_CUSTOM_MODELS__ENABLED=true)) and merges O(env) and O(secret_env) over it.
  - Generates the gateway's JWT signing and validation keys (C(AIGW_SELF_SIGNED_JWT__*) and the Duo Workflow
    ones) once, keeps them in O(jwt_keys_dir) with mode 0600, and reuses them on every later run and upgrade.
    They are never printed.
  - Idempotent. Nothing restarts when nothing changed; a changed image, environment, port, network, restart
    policy or mount replaces the container. The old container is stopped and kept aside until the new one is
    healthy, and is put back (and started) when the new one is not. An old container that bypasses authentication
    when the declaration does not is removed instead, never started again.
  - With O(state=present) it always checks health, also when nothing changed - C(/monitoring/healthz) must
    answer 200 and the root C(401 No authorization header presented) within O(health_timeout) - and fails
    with the container's last log lines otherwise.
  - Refuses C(AIGW_AUTH__BYPASS_EXTERNAL=true) unless O(allow_auth_bypass=true) (troubleshooting only), and
    refuses the C(latest) and C(nightly) tags and an image without a tag.
  - While authentication is bypassed the gateway must listen on loopback only - on the default bridge its port
    published on a loopback address; on the host network or a user-defined network (a TLS proxy's, where NGINX
    would reach it) C(AIGW_FASTAPI__API_HOST), the address the gateway's uvicorn binds, a loopback address.
  - A gateway that binds a loopback address in a network namespace of its own (C(AIGW_FASTAPI__API_HOST=127.0.0.1),
    not the host network) is reached by nothing outside its container, so its health is checked inside it
    (C(docker exec), with the image's C(wget) or C(python3)) unless O(health_url) is set.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
requirements:
  - requests
  - cryptography (to generate JWT keys)
attributes:
  check_mode:
    support: full
    details: Reads the container and the key directory; pulls, writes and starts nothing.
  diff_mode:
    support: full
    details: Shows image, environment (secrets masked), ports, network, restart policy and mounts.
  idempotent:
    support: full
extends_documentation_fragment:
  - gitlab_duo.self_hosted.lock
  - gitlab_duo.self_hosted.lock.lease
  - gitlab_duo.self_hosted.docker
  - gitlab_duo.self_hosted.docker.gateway
  - gitlab_duo.self_hosted.docker.container
  - gitlab_duo.self_hosted.docker.registry_auth
  - gitlab_duo.self_hosted.attributes
  - gitlab_duo.self_hosted.gitlab.instance_url
  - gitlab_duo.self_hosted.docker.bind_address
options:
  state:
    description:
      - V(present) makes the container run as declared; V(restarted) also restarts it when nothing changed;
        V(absent) removes it (the JWT keys stay on the host).
    type: str
    choices: [present, absent, restarted]
    default: present
  image:
    description: Full image reference with a release tag (see M(gitlab_duo.self_hosted.gateway_release)).
    type: str
  gitlab_api_url:
    description: C(AIGW_GITLAB_API_URL); defaults to O(gitlab_url) + C(/api/v4/).
    type: str
  custom_models_enabled:
    description: Set C(AIGW_CUSTOM_MODELS__ENABLED) (needed for self-hosted models).
    type: bool
    default: true
  env:
    description:
      - Extra environment variables (timeouts, C(AIGW_CUSTOM_MODELS__DISABLE_STREAMING), C(HF_HOME), proxies...).
        They override derived values. Names that look secret (KEY, TOKEN, SECRET, PASSWORD) are masked in output.
    type: dict
    default: {}
  secret_env:
    description: Environment variables whose values are secrets (model API keys); never shown.
    type: dict
    default: {}
  network_mode:
    description:
      - V(bridge) (default), V(host) (the gateway shares the host's network, for a model server on the same host;
        C(AIGW_FASTAPI__METRICS_PORT) then moves to 8083), or the name of a user-defined network (created when
        missing).
    type: str
    default: bridge
  published_port:
    description:
      - Host port published for the gateway's port 5052. Defaults to 5052 on V(bridge); not allowed with
        O(network_mode=host). Use V(0) to publish nothing (a proxy on the same network reaches it).
    type: int
  ca_bundle:
    description:
      - CA bundle (PEM) on the gateway host, mounted read-only; C(SSL_CERT_FILE) and C(REQUESTS_CA_BUNDLE) point at it.
        Needed when GitLab or a model endpoint uses a private CA (JWKError, CERTIFICATE_VERIFY_FAILED).
    type: path
  platform:
    description: Image platform. Defaults to C(linux/amd64) when the Docker host is not amd64.
    type: str
  airgapped:
    description: Point the customers-portal and OIDC URLs at the GitLab URL, since no portal is reachable.
    type: bool
    default: false
  jwt_keys_dir:
    description: Where the gateway's JWT keys live on the host. Defaults to C(/etc/gitlab-ai-gateway/<name>).
    type: path
  jwt_keys:
    description: Supply JWT keys (PEM) instead of generating them; keys are variable names such as C(AIGW_SELF_SIGNED_JWT__SIGNING_KEY).
    type: dict
  manage_jwt_keys:
    description: Generate, keep and set the JWT keys.
    type: bool
    default: true
  allow_auth_bypass:
    description: Allow C(AIGW_AUTH__BYPASS_EXTERNAL=true). Troubleshooting only; never in production.
    type: bool
    default: false
  health_timeout:
    description: Seconds to wait for the gateway to answer healthy.
    type: int
    default: 120
  health_url:
    description:
      - Base URL for the health check from the gateway host; derived from the port and network otherwise (inside
        the container for a gateway that binds loopback on a network of its own).
    type: str
  stop_timeout:
    description: Seconds Docker waits for the gateway to stop.
    type: int
    default: 10"""

EXAMPLES = r"""
- name: Run the gateway for GitLab 18.2
  gitlab_duo.self_hosted.gateway_container:
    image: registry.gitlab.com/gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway:self-hosted-v18.2.2-ee
    gitlab_url: https://gitlab.example.com
    env:
      AIGW_CUSTOM_MODELS__DISABLE_STREAMING: "false"
    secret_env:
      MODEL_API_KEY: "{{ vault_model_api_key }}"

- name: Model server on the same host - use the host network
  gitlab_duo.self_hosted.gateway_container:
    image: "{{ release.image }}"
    gitlab_url: https://gitlab.example.com
    network_mode: host

- name: Private CA, air-gapped
  gitlab_duo.self_hosted.gateway_container:
    image: registry.internal.example.com/ai-gateway/model-gateway:self-hosted-v18.2.2-ee
    gitlab_url: https://gitlab.internal.example.com
    ca_bundle: /etc/pki/tls/certs/internal-ca.pem
    airgapped: true
    pull: never

- name: From the organisation's registry mirror, which requires a login (its CA in /etc/docker/certs.d/<host:port>/)
  gitlab_duo.self_hosted.gateway_container:
    image: mirror.internal.example.com:5443/gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway:self-hosted-v18.2.2-ee
    gitlab_url: https://gitlab.internal.example.com
    registry_username: duo-pull
    registry_password: "{{ vault_mirror_password }}"
"""

RETURN = r"""
container:
  description: The container as it runs now.
  returned: success, unless O(state=absent)
  type: dict
  sample: {"name": "gitlab-ai-gateway", "id": "4f2b...", "image": "...:self-hosted-v18.2.2-ee",
           "image_id": "sha256:...", "status": "running", "health_url": "http://127.0.0.1:5052"}
changes:
  description: What differed from the declaration (V(container) when there was none).
  returned: always
  type: list
  elements: str
  sample: [image, env]
health:
  description: The health check results (C(healthz) and C(root) probes).
  returned: when checked
  type: dict
jwt_keys_generated:
  description: Names of the JWT key variables generated in this run (never the keys).
  returned: success
  type: list
  elements: str
rolled_back:
  description: The new container was unhealthy and the previous one was put back.
  returned: on failure after a replacement
  type: bool
step:
  description: The step of a change that failed (V(stop the old container), V(create), V(start), V(health), ...).
  returned: on failure during a change
  type: str
interrupted_repair:
  description:
    - What an interrupted earlier run had left and how it was repaired - V(restored_previous) (the known-good
      C(<name>-previous) renamed back and started, a half-made C(<name>) removed), V(removed_previous) (C(<name>)
      passed health), V(removed_bypassing_previous) (it bypassed authentication; never started).
  returned: when there was something to repair
  type: str
logs:
  description: Last lines of the container log, secrets redacted.
  returned: on health failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._lock import LOCK_TIMEOUT_OPTION, RUN_ID_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import (
    BIND_ADDRESS_OPTION, DOCKER_HOST_OPTION, LABELS_OPTION, PULL_OPTION, REGISTRY_PASSWORD_OPTION,
    REGISTRY_USERNAME_OPTION, RESTART_POLICY_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.container import (
    GATEWAY_NAME_OPTION, reconcile)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.options import INSTANCE_URL_OPTION


def main():
    module = AnsibleModule(
        argument_spec=dict(
            lock_timeout=LOCK_TIMEOUT_OPTION,
            run_id=RUN_ID_OPTION,
            name=GATEWAY_NAME_OPTION,
            state=dict(type="str", default="present", choices=["present", "absent", "restarted"]),
            image=dict(type="str"),
            gitlab_url=INSTANCE_URL_OPTION,
            gitlab_api_url=dict(type="str"),
            custom_models_enabled=dict(type="bool", default=True),
            env=dict(type="dict", default={}),
            secret_env=dict(type="dict", default={}, no_log=True),
            network_mode=dict(type="str", default="bridge"),
            published_port=dict(type="int"),
            bind_address=BIND_ADDRESS_OPTION,
            restart_policy=RESTART_POLICY_OPTION,
            ca_bundle=dict(type="path"),
            platform=dict(type="str"),
            pull=PULL_OPTION,
            registry_username=REGISTRY_USERNAME_OPTION,
            registry_password=REGISTRY_PASSWORD_OPTION,
            airgapped=dict(type="bool", default=False),
            jwt_keys_dir=dict(type="path", no_log=False),
            jwt_keys=dict(type="dict", no_log=True),
            manage_jwt_keys=dict(type="bool", default=True, no_log=False),
            allow_auth_bypass=dict(type="bool", default=False),
            health_timeout=dict(type="int", default=120),
            health_url=dict(type="str"),
            stop_timeout=dict(type="int", default=10),
            labels=LABELS_OPTION,
            docker_host=DOCKER_HOST_OPTION,
        ),
        required_together=[("registry_username", "registry_password")],
        required_if=[("state", "present", ("image", "gitlab_url")), ("state", "restarted", ("image", "gitlab_url"))],
        supports_check_mode=True,
    )
    respond(module, reconcile, module.params, module.check_mode)


if __name__ == "__main__":
    main()
