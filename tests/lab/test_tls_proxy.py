"""install.yml with the TLS proxy on the lab: NGINX in a container (the lab's image of Debian's nginx), real
ACME from Pebble through NGINX's webroot, renew.yml, and a configuration NGINX rejects."""

import json
import os
import ssl
import socket
import subprocess

import requests

from .conftest import REPO, VENV_BIN, free_port, run_module, run_playbook, write_inventory

PEBBLE_CA = os.path.join(REPO, ".lab", "pebble", "ca.pem")
DOMAIN = "gateway.duo-lab.test"
NGINX_IMAGE = "127.0.0.1:5000/library/nginx:1.22-lab"
ACME_HTTP_PORT = 5002  # where Pebble sends HTTP-01 checks (lab/lab.sh)
# The rake stand-in's Ruby trusts only the system CAs, as GitLab does until the gateway's CA is in
# /etc/gitlab/trusted-certs; the probes from the GitLab host check the HTTPS path instead.
NO_RAKE = '{"verify_run_rake": false}'


def pebble_root(path):
    answer = requests.get("https://127.0.0.1:15000/roots/0", verify=PEBBLE_CA, timeout=10)
    answer.raise_for_status()
    path.write_text(answer.text)
    return str(path)


def tls_vars(tmp_path, run_id, https_port, **extra):
    variables = {
        "tls_proxy_enabled": True, "tls_proxy_domains": [DOMAIN], "tls_proxy_image": NGINX_IMAGE,
        "tls_proxy_container_name": "duo-proxy-" + run_id, "tls_proxy_network": "duo-test-" + run_id,
        "tls_proxy_dir": str(tmp_path / "nginx"), "tls_proxy_http_port": ACME_HTTP_PORT,
        "tls_proxy_https_port": https_port, "tls_proxy_bind_address": "127.0.0.1",
        "tls_proxy_acme_directory": "https://127.0.0.1:14000/dir", "tls_proxy_acme_ca_bundle": PEBBLE_CA,
        "tls_proxy_labels": {"gitlab_duo.test": run_id},
    }
    variables.update(extra)
    return variables


def provided_certificate_vars(tmp_path, run_id, https_port, **extra):
    """tls_vars with a certificate made here (self_signed_lab) and provided to the role: no ACME. Returns the
    variables and the certificate (the CA to trust)."""
    made = tmp_path / "made"
    rc, _result, output = run_module("tls_certificate", {"mode": "self_signed_lab", "domains": [DOMAIN],
                                                         "cert_dir": str(made)})
    assert rc == 0, output
    return tls_vars(tmp_path, run_id, https_port, tls_proxy_certificate_mode="provided",
                    tls_proxy_certificate_file=str(made / "cert.pem"), tls_proxy_key_file=str(made / "privkey.pem"),
                    **extra), str(made / "cert.pem")


def served_serial(port, root):
    context = ssl.create_default_context(cafile=root)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname=DOMAIN) as tls:
            from cryptography import x509
            return format(x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number, "x")


def test_install_with_acme_behind_nginx_then_renew(lab, run_id, gitlab_factory, tmp_path):
    gitlab = gitlab_factory()
    https_port = free_port()
    root = pebble_root(tmp_path / "pebble-root.pem")
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, 0, run_id,
                                **tls_vars(tmp_path, run_id, https_port))
    first = run_playbook(inventory, "install.yml", "-e", "verify_ca_path=" + root, "-e", NO_RAKE)
    assert first.rc == 0, first.output
    url = "https://{0}:{1}".format(DOMAIN, https_port)
    assert gitlab.state["ai_settings"]["ai_gateway_url"] == url
    gateway = lab.containers.get("duo-t-" + run_id)
    assert gateway.attrs["HostConfig"]["PortBindings"] in ({}, None), "the gateway must publish no port"
    assert gateway.attrs["HostConfig"]["NetworkMode"] == "duo-test-" + run_id
    assert requests.get(url + "/monitoring/healthz", verify=root, timeout=10).json() == {"status": "ok"}
    redirect = requests.get("http://{0}:{1}/v1/chat/agent".format(DOMAIN, ACME_HTTP_PORT), allow_redirects=False,
                            timeout=10)
    assert redirect.status_code == 301 and redirect.headers["Location"] == url + "/v1/chat/agent"
    summary = (tmp_path / "reports" / "install-summary.md").read_text()
    assert "proxy_redirects_http_to_https" in summary and "certificate trusted" in summary and "FAIL" not in summary
    assert (tmp_path / "nginx" / "certs" / "privkey.pem").stat().st_mode & 0o777 == 0o600

    again = run_playbook(inventory, "install.yml", "-e", "verify_ca_path=" + root, "-e", NO_RAKE)
    assert again.rc == 0 and again.changed() == 0, again.output
    preview = run_playbook(inventory, "install.yml", "--check", "--diff", "-e", "verify_ca_path=" + root, "-e", NO_RAKE)
    assert preview.rc == 0 and preview.changed() == 0, preview.output

    proxy = lab.containers.get("duo-proxy-" + run_id)
    started, serial = proxy.attrs["State"]["StartedAt"], served_serial(https_port, root)
    nothing_due = run_playbook(inventory, "renew.yml")
    assert nothing_due.rc == 0 and nothing_due.changed() == 0, nothing_due.output
    renewed = run_playbook(inventory, "renew.yml", "-e", "tls_proxy_renew_before_days=100000")
    assert renewed.rc == 0 and renewed.changed() == 2, renewed.output
    assert served_serial(https_port, root) != serial, "NGINX still serves the old certificate"
    proxy.reload()
    assert proxy.attrs["State"]["StartedAt"] == started, "NGINX was restarted instead of reloaded"


def test_rejected_configuration_keeps_the_running_one(lab, run_id, tmp_path):
    proxy_dir = tmp_path / "nginx"
    args = {"name": "duo-proxy-" + run_id, "image": NGINX_IMAGE, "network": "duo-test-" + run_id,
            "proxy_dir": str(proxy_dir), "http_port": free_port(), "https_port": free_port(),
            "bind_address": "127.0.0.1", "labels": {"gitlab_duo.test": run_id},
            "config": "pid /tmp/nginx.pid;\nevents {}\nhttp { server { listen 80; location / { return 204; } } }\n"}
    rc, first, output = run_module("nginx_proxy", args)
    assert rc == 0 and first["changed"], output
    url = "http://127.0.0.1:{0}/".format(args["http_port"])
    assert requests.get(url, timeout=5).status_code == 204
    good = (proxy_dir / "nginx.conf").read_text()

    broken = dict(args, config=args["config"].replace("return 204;", "return 204; no_such_directive on;"))
    rc, result, _output = run_module("nginx_proxy", broken, "--check")
    assert rc != 0 and "no_such_directive" in result["msg"], "check mode must test the configuration too"
    rc, result, _output = run_module("nginx_proxy", broken)
    assert rc != 0 and 'unknown directive "no_such_directive"' in result["msg"]
    assert "running one keeps serving" in result["msg"]
    assert (proxy_dir / "nginx.conf").read_text() == good
    assert requests.get(url, timeout=5).status_code == 204

    changed = dict(args, config=args["config"].replace("return 204;", "return 202;"))
    rc, result, _output = run_module("nginx_proxy", changed)
    assert rc == 0 and result["reloaded"] and not result["container_changed"]
    assert requests.get(url, timeout=5).status_code == 202
    assert run_module("nginx_proxy", changed)[1]["changed"] is False


def test_provided_certificate_through_the_role(lab, run_id, gitlab_factory, tmp_path):
    made = tmp_path / "made"
    gitlab = gitlab_factory()
    https_port = free_port()
    variables, _certificate = provided_certificate_vars(tmp_path, run_id, https_port)
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, 0, run_id, **variables)
    result = run_playbook(inventory, "install.yml", "-e", "verify_ca_path=" + str(made / "cert.pem"), "-e", NO_RAKE)
    assert result.rc == 0, result.output
    assert "BEGIN PRIVATE KEY" not in result.output
    assert (tmp_path / "nginx" / "certs" / "privkey.pem").read_text() == (made / "privkey.pem").read_text()
    answer = requests.get("https://{0}:{1}/".format(DOMAIN, https_port), verify=str(made / "cert.pem"), timeout=10)
    assert answer.status_code == 401


def test_nginx_from_host_packages(lab, run_id, gitlab_factory, tmp_path):
    """tls_proxy_mode=host: the host's Debian nginx, run directly (no init system here), in front of the gateway
    published on 127.0.0.1."""
    import shutil
    import subprocess
    import tempfile
    gitlab = gitlab_factory()
    https_port, gateway_port = free_port(), free_port()
    base = tempfile.mkdtemp(prefix="duo-host-nginx-")
    os.chmod(base, 0o755)  # NGINX workers run unprivileged and must reach the webroot
    proxy_dir = os.path.join(base, "nginx")
    root = pebble_root(tmp_path / "pebble-root.pem")
    inventory = write_inventory(
        tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, gateway_port, run_id,
        **tls_vars(tmp_path, run_id, https_port, tls_proxy_mode="host", tls_proxy_dir=proxy_dir,
                   tls_proxy_host_package="", tls_proxy_host_service_manager="direct"))
    try:
        first = run_playbook(inventory, "install.yml", "-e", "verify_ca_path=" + root, "-e", NO_RAKE)
        assert first.rc == 0, first.output
        gateway = lab.containers.get("duo-t-" + run_id)
        assert gateway.attrs["HostConfig"]["PortBindings"]["5052/tcp"][0]["HostIp"] == "127.0.0.1"
        url = "https://{0}:{1}".format(DOMAIN, https_port)
        assert gitlab.state["ai_settings"]["ai_gateway_url"] == url
        assert requests.get(url + "/monitoring/healthz", verify=root, timeout=10).json() == {"status": "ok"}
        with open(os.path.join(proxy_dir, "run", "nginx.pid")) as handle:
            master = handle.read().strip()
        again = run_playbook(inventory, "install.yml", "-e", "verify_ca_path=" + root, "-e", NO_RAKE)
        assert again.rc == 0 and again.changed() == 0, again.output
        serial = served_serial(https_port, root)
        renewed = run_playbook(inventory, "renew.yml", "-e", "tls_proxy_renew_before_days=100000")
        assert renewed.rc == 0 and renewed.changed() == 2, renewed.output
        assert served_serial(https_port, root) != serial
        with open(os.path.join(proxy_dir, "run", "nginx.pid")) as handle:
            assert handle.read().strip() == master, "NGINX was restarted instead of reloaded"
    finally:
        subprocess.run(["nginx", "-c", os.path.join(proxy_dir, "nginx.conf"), "-s", "quit"], check=False,
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_preflight_names_a_busy_proxy_port(lab, run_id, gitlab_factory, tmp_path, busy_port):
    gitlab = gitlab_factory()
    inventory = write_inventory(tmp_path / "inventory.yml", gitlab, "duo-t-" + run_id, 0, run_id,
                                **tls_vars(tmp_path, run_id, busy_port))
    result = run_playbook(inventory, "install.yml", "-e", NO_RAKE)
    assert result.rc != 0
    assert "Port {0} on 127.0.0.1 is in use by another process".format(busy_port) in result.output
    assert not lab.containers.list(all=True, filters={"label": "gitlab_duo.test=" + run_id})


def test_systemd_unit_passes_systemd_analyze(tmp_path):
    """Host mode with systemd cannot run here (no init system), but systemd itself checks the unit it would load."""
    unit = tmp_path / "gitlab-ai-gateway-proxy.service"
    values = {"tls_proxy_dir": "/etc/gitlab-ai-gateway/nginx", "tls_proxy_runtime_dir": "/etc/gitlab-ai-gateway/nginx/run"}
    rendered = subprocess.run(
        [os.path.join(VENV_BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.template",
         "-a", "src={0} dest={1}".format(os.path.join(REPO, "roles", "tls_proxy", "templates", "proxy.service.j2"), unit),
         "-e", json.dumps(values), "-e", "ansible_python_interpreter=" + os.path.join(VENV_BIN, "python")],
        capture_output=True, text=True, check=False, cwd=REPO)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    text = unit.read_text()
    assert "ExecStartPre=/usr/sbin/nginx -t -q -c /etc/gitlab-ai-gateway/nginx/nginx.conf" in text
    assert "ExecReload=/usr/sbin/nginx -c /etc/gitlab-ai-gateway/nginx/nginx.conf -s reload" in text
    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False,
                              timeout=60)
    complaints = [line for line in (verified.stdout + verified.stderr).splitlines() if unit.name in line]
    assert verified.returncode == 0 and complaints == [], verified.stdout + verified.stderr
