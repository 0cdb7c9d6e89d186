"""A second lab registry that, like registry.gitlab.com, wants a Bearer token: Debian's docker-registry with
``auth: token`` as a pull-through mirror of the lab registry (so it holds the same images and digests, whichever
checkout started that one), and a small token service that hands out anonymous pull tokens (RS256 JWTs carrying
their certificate in ``x5c``, as the registry's token auth expects).

Used by tests: ``with TokenRegistry(workdir) as registry: registry.url, registry.token_requests``. With
``credentials=(user, password)`` the token service wants them (HTTP Basic) and refuses anyone else, as a private
registry does; ``registry.token_users`` lists who asked.
"""

import base64
import datetime
import json
import os
import socket
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


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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

    def token(self, scopes):
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()]}
        now = int(time.time())
        access = []
        for scope in scopes:
            kind, rest = scope.split(":", 1)
            name, actions = rest.rsplit(":", 1)
            # Anonymous users may pull, nothing else.
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a == "pull"]})
        claims = {"iss": ISSUER, "sub": "", "aud": SERVICE, "iat": now, "nbf": now - 10, "exp": now + 300,
                  "jti": uuid.uuid4().hex, "access": access}
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
        signature = self.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64(signature)


class TokenRegistry:
    def __init__(self, workdir, credentials=None):
        self.workdir = workdir
        self.credentials = credentials
        self.signer = _Signer()
        self.token_requests = []
        self.token_users = []
        self.refuse_tokens = False
        self.port = _free_port()
        self.url = "http://127.0.0.1:{0}".format(self.port)
        self._server = None
        self._registry = None

    def _handler(self):
        owner = self

        class TokenService(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = parse_qs(urlparse(self.path).query)
                owner.token_requests.append(query)
                user = owner.basic_user(self.headers.get("Authorization"))
                owner.token_users.append(user)
                if owner.credentials and user is None:
                    body, status = {"errors": [{"code": "UNAUTHORIZED", "message": "credentials required"}]}, 401
                elif owner.refuse_tokens:
                    body, status = {"errors": [{"code": "DENIED", "message": "token service is closed"}]}, 403
                else:
                    token = owner.signer.token(query.get("scope", []))
                    body, status = {"token": token, "access_token": token, "expires_in": 300}, 200
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return TokenService

    def basic_user(self, header):
        """The user of a Basic ``Authorization`` header when it carries the registry's credentials, else None."""
        if not header or not header.startswith("Basic ") or not self.credentials:
            return None
        try:
            user, _sep, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return None
        return user if (user, password) == tuple(self.credentials) else None

    def __enter__(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        realm = "http://127.0.0.1:{0}/jwt/auth".format(self._server.server_address[1])
        bundle = os.path.join(self.workdir, "token-root.pem")
        with open(bundle, "wb") as handle:
            handle.write(self.signer.certificate_pem())
        config = os.path.join(self.workdir, "token-registry.yml")
        with open(config, "w") as handle:
            handle.write(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
                "http:\n  addr: 127.0.0.1:{port}\nproxy:\n  remoteurl: {upstream}\n"
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n"
                "    rootcertbundle: {bundle}\n".format(
                    storage=os.path.join(self.workdir, "token-registry-data"), port=self.port, upstream=UPSTREAM,
                    realm=realm, service=SERVICE, issuer=ISSUER, bundle=bundle))
        self._log = open(os.path.join(self.workdir, "token-registry.log"), "wb")
        self._registry = subprocess.Popen(["docker-registry", "serve", config], stdout=self._log,
                                          stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/v2/", timeout=2).status_code == 401:
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
        self._log.close()
