"""A second lab registry that, like registry.gitlab.com, wants a Bearer token: Debian's docker-registry with
``auth: token`` and a small token service that hands out RS256 JWTs carrying their certificate in ``x5c``, as the
registry's token auth expects.

Two modes:

- the default, a pull-through mirror of the lab registry (so it holds the same images and digests, whichever
  checkout started that one) whose token service hands out anonymous pull tokens, as registry.gitlab.com does;
- ``users={name: password}``: an organisation's internal registry, writable and empty at start, whose token
  service grants what a scope asks for (pull, push) only to a user whose basic credentials match, and answers
  401 to anyone else; with ``tls=True`` the registry and the token service serve HTTPS with a certificate for
  ``address`` from a lab CA made here (``ca_file``; ``cert_dir`` holds it as ``ca.crt``, as Docker's
  ``/etc/docker/certs.d/<host:port>/`` and skopeo's ``--cert-dir`` want it); with ``pull_through=True`` such a
  registry mirrors the lab registry instead (a private registry a bundle is built from).

Used by tests: ``with TokenRegistry(workdir) as registry: registry.url, registry.host, registry.token_requests``.
"""

import base64
import datetime
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

UPSTREAM = "http://127.0.0.1:5000"
SERVICE = "container_registry"
ISSUER = "duo-lab-token-service"


def _b64(data):
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _free_port(address="127.0.0.1"):
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(path, data, mode=0o644):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as handle:
        handle.write(data)
    return path


class LabCA:
    """An organisation's internal CA, made with ``cryptography``: a root, and a server certificate for
    ``address`` (an IP SAN, plus localhost) that the registry and its token service present."""

    def __init__(self, directory, address):
        now = datetime.datetime.now(datetime.timezone.utc)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root = (x509.CertificateBuilder().subject_name(_name("duo lab registry CA")).issuer_name(_name("duo lab registry CA"))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        server = (x509.CertificateBuilder().subject_name(_name(address)).issuer_name(root.subject)
                  .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
                  .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                  .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address)),
                                                              x509.DNSName("localhost")]), critical=False)
                  .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                  .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
                  .sign(key, hashes.SHA256()))
        os.makedirs(directory, exist_ok=True)
        self.ca_file = _pem(os.path.join(directory, "ca.pem"), root.public_bytes(serialization.Encoding.PEM))
        self.cert_file = _pem(os.path.join(directory, "server.pem"), server.public_bytes(serialization.Encoding.PEM))
        self.key_file = _pem(os.path.join(directory, "server-key.pem"), server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()),
            0o600)
        # What Docker (/etc/docker/certs.d/<host:port>/) and skopeo (--cert-dir) read: the CA as ca.crt, alone.
        self.cert_dir = os.path.join(directory, "certs.d")
        os.makedirs(self.cert_dir, exist_ok=True)
        _pem(os.path.join(self.cert_dir, "ca.crt"), root.public_bytes(serialization.Encoding.PEM))


class _Signer:
    """An RSA key and a self-signed certificate: the registry trusts the certificate (rootcertbundle)."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                            .not_valid_before(now - datetime.timedelta(minutes=5))
                            .not_valid_after(now + datetime.timedelta(days=1))
                            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                            .sign(self.key, hashes.SHA256()))

    def certificate_pem(self):
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def token(self, scopes, user=None):
        """A token for ``scopes``: a known ``user`` gets the actions asked for, anyone else pull only."""
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()]}
        now = int(time.time())
        access = []
        for scope in scopes:
            kind, rest = scope.split(":", 1)
            name, actions = rest.rsplit(":", 1)
            granted = [a for a in actions.split(",") if a in (("pull", "push") if user else ("pull",))]
            access.append({"type": kind, "name": name, "actions": granted})
        claims = {"iss": ISSUER, "sub": user or "", "aud": SERVICE, "iat": now, "nbf": now - 10, "exp": now + 300,
                  "jti": uuid.uuid4().hex, "access": access}
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
        signature = self.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64(signature)


class TokenRegistry:
    def __init__(self, workdir, address="127.0.0.1", users=None, tls=False, pull_through=None):
        self.workdir = workdir
        self.address = address
        self.users = dict(users or {})
        # A registry with users is an internal one of its own unless asked to mirror the lab registry (a private
        # registry the bundle is built from).
        self.pull_through = not self.users if pull_through is None else pull_through
        self.signer = _Signer()
        self.token_requests = []
        self.refused_users = []
        self.refuse_tokens = False
        self.port = _free_port(address)
        self.host = "{0}:{1}".format(address, self.port)
        self.ca = LabCA(os.path.join(workdir, "registry-ca"), address) if tls else None
        self.ca_file = self.ca.ca_file if tls else None
        self.cert_dir = self.ca.cert_dir if tls else None
        self.url = "{0}://{1}".format("https" if tls else "http", self.host)
        self._server = None
        self._registry = None
        self._log = None

    def _user(self, header):
        """The user whose basic credentials match, '' for none sent, None for wrong ones."""
        if not header:
            return ""
        scheme, _sep, value = header.partition(" ")
        try:
            name, _sep, password = base64.b64decode(value).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if scheme.lower() != "basic" or self.users.get(name) != password:
            self.refused_users.append(name)
            return None
        return name

    def _handler(self):
        owner = self

        class TokenService(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = parse_qs(urlparse(self.path).query)
                user = owner._user(self.headers.get("Authorization")) if owner.users else ""
                # With users, who asked (None: wrong credentials) and with what (the User-Agent: docker, skopeo...).
                owner.token_requests.append(dict(query, user=[user], agent=[self.headers.get("User-Agent", "")])
                                            if owner.users else query)
                challenge = None
                if owner.refuse_tokens:
                    body, status = {"errors": [{"code": "DENIED", "message": "token service is closed"}]}, 403
                elif owner.users and not user:
                    # An internal registry: no token without a known user (a docker login's credentials).
                    body, status = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}, 401
                    challenge = 'Basic realm="duo lab registry"'
                else:
                    token = owner.signer.token(query.get("scope", []), user or None)
                    body, status = {"token": token, "access_token": token, "expires_in": 300}, 200
                data = json.dumps(body).encode()
                self.send_response(status)
                if challenge:
                    self.send_header("WWW-Authenticate", challenge)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return TokenService

    def __enter__(self):
        self._server = ThreadingHTTPServer((self.address, 0), self._handler())
        if self.ca is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca.cert_file, self.ca.key_file)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        realm = "{0}://{1}:{2}/jwt/auth".format("https" if self.ca else "http", self.address,
                                                self._server.server_address[1])
        bundle = os.path.join(self.workdir, "token-root.pem")
        with open(bundle, "wb") as handle:
            handle.write(self.signer.certificate_pem())
        tls = "  tls:\n    certificate: {0}\n    key: {1}\n".format(self.ca.cert_file, self.ca.key_file) \
            if self.ca else ""
        # The default mode mirrors the lab registry; with users it is an internal registry of its own, writable.
        proxy = "" if not self.pull_through else "proxy:\n  remoteurl: {0}\n".format(UPSTREAM)
        config = os.path.join(self.workdir, "token-registry.yml")
        with open(config, "w") as handle:
            handle.write(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
                "http:\n  addr: {host}\n{tls}{proxy}"
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n"
                "    rootcertbundle: {bundle}\n".format(
                    storage=os.path.join(self.workdir, "token-registry-data"), host=self.host, tls=tls, proxy=proxy,
                    realm=realm, service=SERVICE, issuer=ISSUER, bundle=bundle))
        self._log = open(os.path.join(self.workdir, "token-registry.log"), "wb")
        self._registry = subprocess.Popen(["docker-registry", "serve", config], stdout=self._log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/v2/", timeout=2, verify=self.ca_file or True).status_code == 401:
                    return self
            except requests.ConnectionError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError("the token registry did not start; see " + self._log.name)

    def __exit__(self, *exc):
        if self._registry is not None:
            self._registry.terminate()
            self._registry.wait(timeout=10)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._log is not None:
            self._log.close()
