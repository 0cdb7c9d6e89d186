import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._tls.nginx import reconcile


@pytest.mark.parametrize("field, value", [("proxy_dir", "/etc/nginx;duo"), ("pid_file", "/run/n\ngx.pid"),
                                          ("proxy_container_name", "proxy name"), ("network", "net$work")])
def test_names_written_into_nginx_and_systemd_are_refused_before_anything(field, value):
    params = {"runtime": "host", "state": "present", "proxy_dir": "/etc/gitlab-ai-gateway/nginx",
              "pid_file": None, "proxy_container_name": "gitlab-ai-gateway-proxy", "network": "gitlab-ai-gateway"}
    params[field] = value

    def run_command(*_args, **_kwargs):
        raise AssertionError("nothing may run before the input is checked")

    with pytest.raises(InputError) as info:
        reconcile(params, False, run_command)
    assert field + "=" in info.value.msg and "Fix:" in info.value.msg
