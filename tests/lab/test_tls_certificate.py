"""tls_certificate against real Pebble (ACME) with real NGINX serving the HTTP-01 challenge and then HTTPS
in front of a gateway stand-in container."""

import os
import shutil
import stat
import subprocess
import tempfile
import time

import pytest
import requests

from .conftest import IMAGE, REPO, free_port, run_module

PEBBLE = os.path.join(REPO, ".lab", "pebble")
DIRECTORY = "https://127.0.0.1:14000/dir"
DOMAIN = "gateway.duo-lab.test"
ACME_HTTP_PORT = 5002

HTTP_SERVER = """
server {{
  listen 127.0.0.1:{http_port};
  location /.well-known/acme-challenge/ {{ root {webroot}; }}
  location / {{ return 301 https://$host$request_uri; }}
}}
"""
TLS_SERVER = """
server {{
  listen 127.0.0.1:{tls_port} ssl;
  ssl_certificate {cert_dir}/fullchain.pem;
  ssl_certificate_key {cert_dir}/privkey.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  location / {{ proxy_pass http://127.0.0.1:{gateway_port}; proxy_buffering off; }}
}}
"""


class Nginx:
    """A host NGINX with its own configuration, serving the ACME webroot on Pebble's HTTP-01 port."""

    def __init__(self, workdir, webroot):
        self.workdir = workdir
        self.webroot = webroot
        self.conf = os.path.join(workdir, "nginx.conf")
        self.servers = [HTTP_SERVER.format(http_port=ACME_HTTP_PORT, webroot=webroot)]
        self.write()
        started = subprocess.run(["nginx", "-c", self.conf], capture_output=True, text=True, check=False)
        # The demo's proxy holds the HTTP-01 port until `lab/lab.sh down` (tests/run does that first).
        assert started.returncode == 0, "NGINX did not start: {0}".format(started.stderr)
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(workdir, "nginx.pid")) and time.monotonic() < deadline:
            time.sleep(0.1)

    def write(self):
        with open(self.conf, "w") as handle:
            handle.write("pid {0}/nginx.pid;\nerror_log {0}/error.log;\nevents {{}}\nhttp {{\n"
                         "access_log {0}/access.log;\n{1}\n}}\n".format(self.workdir, "\n".join(self.servers)))

    def add_server(self, text):
        self.servers.append(text)
        self.write()
        subprocess.run(["nginx", "-c", self.conf, "-s", "reload"], check=True)
        time.sleep(0.5)

    def stop(self):
        subprocess.run(["nginx", "-c", self.conf, "-s", "quit"], check=False)


@pytest.fixture
def acme_site(lab):
    workdir = tempfile.mkdtemp(prefix="duo-acme-")
    os.chmod(workdir, 0o755)  # NGINX workers run unprivileged and must read the webroot
    webroot = os.path.join(workdir, "webroot")
    os.makedirs(webroot, mode=0o755)
    nginx = Nginx(workdir, webroot)
    yield {"dir": workdir, "webroot": webroot, "cert_dir": os.path.join(workdir, "certs"), "nginx": nginx}
    nginx.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def acme_args(site, **extra):
    args = {"domains": [DOMAIN], "cert_dir": site["cert_dir"], "webroot": site["webroot"],
            "acme_directory": DIRECTORY, "acme_ca_bundle": os.path.join(PEBBLE, "ca.pem"),
            "acme_email": "ops@duo-lab.test", "acme_account_key": os.path.join(site["dir"], "account.pem"),
            "acme_timeout": 60}
    args.update(extra)
    return args


def pebble_root(path):
    answer = requests.get("https://127.0.0.1:15000/roots/0", verify=os.path.join(PEBBLE, "ca.pem"), timeout=10)
    answer.raise_for_status()
    with open(path, "w") as handle:
        handle.write(answer.text)
    return path


def test_issue_serve_rerun_renew_and_failed_renewal(lab, run_id, acme_site):
    rc, issued, output = run_module("tls_certificate", acme_args(acme_site))
    assert rc == 0, output
    assert issued["changed"] and issued["action"] == "issued"
    assert issued["certificate"]["names"] == [DOMAIN] and "Pebble" in issued["certificate"]["issuer"]
    assert stat.S_IMODE(os.stat(issued["paths"]["key"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(acme_site["dir"], "account.pem")).st_mode) == 0o600
    assert os.listdir(os.path.join(acme_site["webroot"], ".well-known", "acme-challenge")) == []

    # HTTPS through NGINX to a gateway stand-in, verified against Pebble's root.
    gateway = lab.containers.run(IMAGE + ":self-hosted-v18.2.2-ee", detach=True, name="duo-tls-" + run_id,
                                 ports={"5052/tcp": ("127.0.0.1", free_port())}, labels={"gitlab_duo.test": run_id})
    gateway.reload()
    gateway_port = gateway.attrs["NetworkSettings"]["Ports"]["5052/tcp"][0]["HostPort"]
    tls_port = free_port()
    acme_site["nginx"].add_server(TLS_SERVER.format(tls_port=tls_port, cert_dir=acme_site["cert_dir"],
                                                    gateway_port=gateway_port))
    root = pebble_root(os.path.join(acme_site["dir"], "root.pem"))
    answer = requests.get("https://{0}:{1}/monitoring/healthz".format(DOMAIN, tls_port), verify=root, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert requests.get("https://{0}:{1}/".format(DOMAIN, tls_port), verify=root, timeout=10).status_code == 401

    rc, again, _output = run_module("tls_certificate", acme_args(acme_site))
    assert rc == 0 and not again["changed"] and again["action"] == "none"
    assert again["certificate"]["serial"] == issued["certificate"]["serial"], "a rerun placed a new order"

    rc, preview, _output = run_module("tls_certificate", acme_args(acme_site, renew_before_days=100000), "--check")
    assert rc == 0 and preview["changed"] and preview["action"] == "renewed"
    rc, renewed, _output = run_module("tls_certificate", acme_args(acme_site, renew_before_days=100000))
    assert rc == 0 and renewed["action"] == "renewed"
    assert renewed["certificate"]["serial"] != issued["certificate"]["serial"]

    # The challenge cannot be reached: the CA's problem is quoted, the installed certificate stays.
    with open(issued["paths"]["fullchain"]) as handle:
        before = handle.read()
    hidden = os.path.join(acme_site["dir"], "not-served")
    os.makedirs(hidden)
    # A new account, so the CA cannot reuse the earlier valid authorization and must validate again.
    rc, failed, _output = run_module("tls_certificate", acme_args(
        acme_site, webroot=hidden, force=True, acme_timeout=30,
        acme_account_key=os.path.join(acme_site["dir"], "account-2.pem")))
    assert rc != 0
    assert "urn:ietf:params:acme:error:" in failed["msg"] and failed["acme_problem"]
    with open(issued["paths"]["fullchain"]) as handle:
        assert handle.read() == before
    assert os.listdir(os.path.join(hidden, ".well-known", "acme-challenge")) == []
    acme_site["nginx"].add_server("")  # reload: the old certificate still serves
    assert requests.get("https://{0}:{1}/monitoring/healthz".format(DOMAIN, tls_port), verify=root,
                        timeout=10).status_code == 200


def test_provided_certificate_checked_before_install(lab, tmp_path):
    cert_dir = str(tmp_path / "certs")
    rc, lab_cert, _output = run_module("tls_certificate", {"mode": "self_signed_lab", "domains": [DOMAIN],
                                                           "cert_dir": str(tmp_path / "lab-certs")})
    assert rc == 0 and lab_cert["changed"]
    certificate = (tmp_path / "lab-certs" / "fullchain.pem").read_text()
    key = (tmp_path / "lab-certs" / "privkey.pem").read_text()
    run_module("tls_certificate", {"mode": "self_signed_lab", "domains": [DOMAIN], "cert_dir": str(tmp_path / "other")})
    other_key = (tmp_path / "other" / "privkey.pem").read_text()

    rc, result, output = run_module("tls_certificate", {"mode": "provided", "domains": [DOMAIN], "cert_dir": cert_dir,
                                                        "certificate": certificate, "private_key": other_key})
    assert rc != 0 and "does not match the certificate" in result["msg"] and not os.path.exists(cert_dir)
    assert "BEGIN PRIVATE KEY" not in output

    rc, result, _output = run_module("tls_certificate", {"mode": "provided", "domains": ["other.duo-lab.test"],
                                                         "cert_dir": cert_dir, "certificate": certificate,
                                                         "private_key": key})
    assert rc != 0 and "does not cover other.duo-lab.test" in result["msg"] and not os.path.exists(cert_dir)

    args = {"mode": "provided", "domains": [DOMAIN], "cert_dir": cert_dir, "certificate": certificate,
            "private_key": key}
    rc, result, _output = run_module("tls_certificate", args)
    assert rc == 0 and result["action"] == "installed"
    rc, result, _output = run_module("tls_certificate", args)
    assert rc == 0 and not result["changed"]


@pytest.mark.parametrize("args, words", [
    ({"domains": ["https://" + DOMAIN]}, "is a URL, not a DNS name"),
    ({"domains": ["*.duo-lab.test"]}, "wildcard, which HTTP-01 cannot validate"),
    ({"domains": [DOMAIN], "webroot": None}, "webroot=None: is required for mode=acme"),
    ({"domains": [DOMAIN], "acme_directory": "acme.example.com/directory"}, "acme_directory="),
    ({"domains": [DOMAIN], "mode": "provided", "certificate": "x", "private_key": "not a key"}, "holds no PEM"),
])
def test_bad_input_before_any_change(tmp_path, args, words):
    base = {"cert_dir": str(tmp_path / "certs"), "webroot": str(tmp_path / "webroot")}
    base.update(args)
    rc, result, _output = run_module("tls_certificate", {key: value for key, value in base.items() if value is not None})
    assert rc != 0 and words in result["msg"] and "Fix:" in result["msg"]
    assert not os.path.exists(tmp_path / "certs")


EAB_KID, EAB_HMAC = "duo-lab-kid", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"


@pytest.fixture
def eab_pebble(tmp_path):
    """A second Pebble that requires External Account Binding, as internal and commercial ACME CAs often do."""
    import json
    config = tmp_path / "pebble-eab.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": "127.0.0.1:14001", "managementListenAddress": "127.0.0.1:15001",
        "certificate": os.path.join(PEBBLE, "cert.pem"), "privateKey": os.path.join(PEBBLE, "key.pem"),
        "httpPort": ACME_HTTP_PORT, "tlsPort": 5001, "ocspResponderURL": "",
        "externalAccountBindingRequired": True, "externalAccountMACKeys": {EAB_KID: EAB_HMAC}}}))
    env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
    process = subprocess.Popen(["pebble", "-config", str(config), "-dnsserver", "127.0.0.1:8053"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get("https://127.0.0.1:14001/dir", verify=os.path.join(PEBBLE, "ca.pem"), timeout=2)
            break
        except requests.RequestException:
            time.sleep(0.2)
    yield "https://127.0.0.1:14001/dir"
    process.terminate()
    process.wait(timeout=10)


def test_external_account_binding(acme_site, eab_pebble):
    args = acme_args(acme_site, acme_directory=eab_pebble)
    rc, result, _output = run_module("tls_certificate", args)
    assert rc != 0 and "externalAccountRequired" in result["msg"] and "acme_eab_kid" in result["msg"]
    assert not os.path.exists(os.path.join(acme_site["cert_dir"], "fullchain.pem"))
    rc, result, output = run_module("tls_certificate", dict(args, acme_eab_kid=EAB_KID, acme_eab_hmac_key=EAB_HMAC))
    assert rc == 0 and result["action"] == "issued", output
    assert EAB_HMAC not in output
