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
  - With O(mode=host) NGINX from the host's packages runs O(proxy_dir)/nginx.conf instead - tested with the
    host's C(nginx -t), then started or reloaded with O(host_commands) (systemctl for a systemd unit) or, by
    default, by running C(nginx -c) directly.
  - O(state=reloaded) reloads NGINX even when nothing changed (after a certificate renewal).
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.docker
  - gitlab_duo.self_hosted.docker.container
  - gitlab_duo.self_hosted.attributes
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
  mode:
    description: V(container) runs NGINX in a container; V(host) uses NGINX from the host's packages.
    type: str
    choices: [container, host]
    default: container
  host_commands:
    description:
      - O(mode=host) - commands (lists) to C(start), C(reload) and ask the C(status) of NGINX, e.g.
        C(start=[systemctl, start, gitlab-ai-gateway-proxy]). Missing ones run C(nginx -c <proxy_dir>/nginx.conf)
        directly and read the pid file.
    type: dict
  pid_file:
    description: O(mode=host) - the pid file the configuration names; C(<proxy_dir>/nginx.pid) by default.
    type: path
  name:
    description: Container name.
    type: str
    default: gitlab-ai-gateway-proxy
  state:
    description: V(present), V(reloaded) (also reload when nothing changed), or V(absent).
    type: str
    choices: [present, reloaded, absent]
    default: present
  image:
    description: NGINX image (pin a version).
    type: str
  network:
    description: User-defined Docker network shared with the gateway container (created when missing); O(mode=container).
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
  bind_address:
    description: Host address the ports bind to.
    type: str
    default: 0.0.0.0
  labels:
    description: Extra container labels.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: NGINX in front of the gateway
  gitlab_duo.self_hosted.nginx_proxy:
    image: docker.io/library/nginx:1.27-alpine
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
nginx_error:
  description: What nginx -t said about a rejected configuration.
  returned: when the configuration was rejected
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils import _nginx
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._containers import (
    DOCKER_HOST_OPTION, PULL_OPTION, RESTART_POLICY_OPTION, docker_client, ensure_image, find)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import port_number


def present_on_host(module):
    params = module.params
    commands = _nginx.host_commands(params["proxy_dir"], params["host_commands"])
    live = _nginx.live_config(params["proxy_dir"])
    config_changed = live != params["config"]
    # In check mode before the package is installed there is no nginx to test with; the real run tests.
    if config_changed and (not module.check_mode or module.get_bin_path("nginx")):
        _nginx.host_validate(module.run_command, params["config"])
    running = _nginx.host_running(module.run_command, params["proxy_dir"], commands, params["pid_file"])
    result = {"config_changed": config_changed, "container_changed": False, "reloaded": False,
              "changed": config_changed or not running or params["state"] == "reloaded",
              "diff": {"before": live or "", "after": params["config"], "before_header": "nginx.conf (running)",
                       "after_header": "nginx.conf (declared)"}}
    if module.check_mode:
        return result
    if config_changed:
        _nginx.promote(params["proxy_dir"], params["config"])
    if not running:
        _nginx.host_run(module.run_command, commands["start"], "Starting NGINX")
    elif config_changed or params["state"] == "reloaded":
        _nginx.host_run(module.run_command, commands["reload"], "Reloading NGINX")
        result["reloaded"] = True
    return result


def present(module, client):
    params = module.params
    for field in ("image", "network"):
        if not params[field]:
            raise DuoError("{0} is required with mode=container. Fix: set it, or use mode=host.".format(field))
    port_number("http_port", params["http_port"])
    port_number("https_port", params["https_port"])
    network_exists = bool(client.networks.list(names=[params["network"]]))
    if not network_exists and not module.check_mode:
        client.networks.create(params["network"], driver="bridge")
    ensure_image(client, params["image"], params["pull"], check_mode=module.check_mode)
    live = _nginx.live_config(params["proxy_dir"])
    config_changed = live != params["config"]
    # In check mode on a new host there is no network yet (nor the gateway whose name NGINX must resolve):
    # nginx -t cannot run there without creating things, so the real run checks the configuration.
    if config_changed and (network_exists or not module.check_mode):
        _nginx.validate(client, params["image"], params["network"], params["proxy_dir"], params["config"])
    want = _nginx.desired(params["image"], params["network"], params["proxy_dir"],
                          {"80/tcp": "{0}:{1}".format(params["bind_address"], params["http_port"]),
                           "443/tcp": "{0}:{1}".format(params["bind_address"], params["https_port"])},
                          params["restart_policy"])
    existing = find(client, params["name"])
    before = _nginx.observe(existing) if existing is not None else {}
    container_changed = any(before.get(key) != value for key, value in want.items() if key != "running")
    result = {"config_changed": config_changed, "container_changed": container_changed, "reloaded": False,
              "diff": [{"before": live or "", "after": params["config"], "before_header": "nginx.conf (running)",
                        "after_header": "nginx.conf (declared)"},
                       {"before": before, "after": want}]}
    starting = existing is None or container_changed or not before.get("running")
    result["changed"] = config_changed or starting or params["state"] == "reloaded"
    if module.check_mode:
        return result
    if config_changed:
        _nginx.promote(params["proxy_dir"], params["config"])
    if existing is None or container_changed:
        container = _nginx.replace(client, params["name"], want, params["labels"])
    else:
        container = existing
        if not before.get("running"):
            container.start()
        elif config_changed or params["state"] == "reloaded":
            _nginx.reload(container)
            result["reloaded"] = True
    container.reload()
    if container.status != "running":
        logs = container.logs(tail=20).decode("utf-8", "replace")
        raise DuoError("The proxy container {0} is {1}. Its log: {2}".format(container.name, container.status, logs))
    result["container"] = {"name": container.name, "id": container.id, "status": container.status}
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", default="container", choices=["container", "host"]),
            host_commands=dict(type="dict"),
            pid_file=dict(type="path"),
            name=dict(type="str", default="gitlab-ai-gateway-proxy"),
            state=dict(type="str", default="present", choices=["present", "reloaded", "absent"]),
            image=dict(type="str"),
            network=dict(type="str"),
            proxy_dir=dict(type="path"),
            config=dict(type="str"),
            http_port=dict(type="int", default=80),
            https_port=dict(type="int", default=443),
            bind_address=dict(type="str", default="0.0.0.0"),
            restart_policy=RESTART_POLICY_OPTION,
            pull=PULL_OPTION,
            labels=dict(type="dict", default={}),
            docker_host=DOCKER_HOST_OPTION,
        ),
        required_if=[("state", "present", ("proxy_dir", "config")), ("state", "reloaded", ("proxy_dir", "config"))],
        supports_check_mode=True,
    )
    try:
        if module.params["mode"] == "host":
            if module.params["state"] == "absent":
                module.fail_json(msg="state=absent is for mode=container; stop the host's NGINX service instead.")
            module.exit_json(**present_on_host(module))
        client = docker_client(module.params["docker_host"])
        if module.params["state"] == "absent":
            existing = find(client, module.params["name"])
            if existing is not None and not module.check_mode:
                existing.remove(force=True)
            module.exit_json(changed=existing is not None)
        module.exit_json(**present(module, client))
    except DuoError as exc:
        exc.fail(module)


if __name__ == "__main__":
    main()
