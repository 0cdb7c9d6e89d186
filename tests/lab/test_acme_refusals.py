"""tls_certificate against refusals Pebble cannot be made to give: a CA that requires a contact address and a
CA that rate-limits orders. A small ACME server on loopback (directory, nonces, accounts, orders) plays the CA;
the module runs for real through Ansible with the real ``acme`` client."""

import base64
import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import run_module

DOMAIN = "gateway.duo-lab.test"


class StrictCA(BaseHTTPRequestHandler):
    """Signs up only accounts with a contact; refuses every order with rateLimited."""

    accounts = []

    def log_message(self, *args):
        pass

    def _send(self, status, body=None, headers=None, content_type="application/json"):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Replay-Nonce", base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _problem(self, status, kind, detail):
        self._send(status, {"type": "urn:ietf:params:acme:error:" + kind, "detail": detail},
                   content_type="application/problem+json")

    def _base(self):
        return "http://127.0.0.1:{0}".format(self.server.server_port)

    def do_HEAD(self):
        self._send(200)

    def do_GET(self):
        if self.path == "/dir":
            base = self._base()
            self._send(200, {"newNonce": base + "/nonce", "newAccount": base + "/account",
                             "newOrder": base + "/order", "revokeCert": base + "/revoke",
                             "keyChange": base + "/key-change", "meta": {"termsOfService": base + "/tos"}})
        else:
            self._send(200 if self.path == "/nonce" else 404)

    def do_POST(self):
        jws = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        encoded = jws.get("payload") or ""
        payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)) or b"{}")
        if self.path == "/account":
            if not payload.get("contact"):
                self._problem(400, "invalidContact", "this CA requires a contact email address for every account")
                return
            self.accounts.append(payload["contact"])
            self._send(201, {"status": "valid", "contact": payload["contact"], "orders": self._base() + "/orders"},
                       headers={"Location": self._base() + "/account/1"})
        elif self.path == "/order":
            self._problem(429, "rateLimited", "too many certificates already issued for this domain")
        else:
            self._problem(404, "malformed", "no such resource")


@pytest.fixture()
def strict_ca():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StrictCA)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:{0}/dir".format(server.server_port)
    server.shutdown()
    server.server_close()


def previous_certificate(tmp_path):
    """A serving certificate from an earlier run (a lab self-signed one), to prove refusals leave it alone."""
    cert_dir = str(tmp_path / "certs")
    rc, result, output = run_module("tls_certificate", {"domains": [DOMAIN], "mode": "self_signed_lab",
                                                        "cert_dir": cert_dir})
    assert rc == 0 and result["changed"], output
    return cert_dir, served(cert_dir)


def acme_args(directory, cert_dir, tmp_path, **extra):
    webroot = tmp_path / "webroot"
    webroot.mkdir(exist_ok=True)
    return dict({"domains": [DOMAIN], "mode": "acme", "cert_dir": cert_dir, "force": True, "webroot": str(webroot),
                 "acme_directory": directory, "acme_account_key": str(tmp_path / "account.pem")}, **extra)


def served(cert_dir):
    """The four files NGINX reads (through the live link to the current version), and what they hold."""
    return {name: open(os.path.join(cert_dir, name), "rb").read()
            for name in ("cert.pem", "chain.pem", "fullchain.pem", "privkey.pem")}


def test_contact_required_names_acme_email_and_leaves_nothing(strict_ca, tmp_path):
    cert_dir, before = previous_certificate(tmp_path)
    rc, result, output = run_module("tls_certificate", acme_args(strict_ca, cert_dir, tmp_path))
    assert rc != 0, output
    assert "urn:ietf:params:acme:error:invalidContact" in result["msg"]
    assert "requires a contact email" in result["msg"]
    assert "give acme_email" in result["msg"]
    # The CA accepted no account, so the new account key goes again; the old certificate is untouched.
    assert not (tmp_path / "account.pem").exists()
    assert served(cert_dir) == before
    assert not os.listdir(tmp_path / "webroot") or not os.listdir(tmp_path / "webroot" / ".well-known" / "acme-challenge")


def test_rate_limit_is_quoted_and_the_account_key_is_kept(strict_ca, tmp_path):
    cert_dir, before = previous_certificate(tmp_path)
    rc, result, output = run_module("tls_certificate", acme_args(strict_ca, cert_dir, tmp_path,
                                                                 acme_email="ops@duo-lab.test"))
    assert rc != 0, output
    assert "urn:ietf:params:acme:error:rateLimited: too many certificates" in result["msg"]
    assert "rate limits" in result["msg"]
    assert result["acme_problem"].startswith("urn:ietf:params:acme:error:rateLimited")
    assert StrictCA.accounts[-1] == ["mailto:ops@duo-lab.test"]
    # The account exists at the CA now: its key stays for the next run (0600), the old certificate serves on.
    assert oct((tmp_path / "account.pem").stat().st_mode & 0o777) == "0o600"
    assert served(cert_dir) == before
