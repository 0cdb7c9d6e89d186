"""RegistryClient against a real HTTP server on loopback that behaves like registry.gitlab.com:
anonymous Bearer challenge, token service, Link pagination, digest on HEAD."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.registry import (
    RegistryClient, image_reference, next_page, parse_challenge, split_registry)

REPO = "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
TAGS = ["self-hosted-v18.2.{0}-ee".format(n) for n in range(12)] + ["nightly", "latest"]


class FakeGitLabRegistry(BaseHTTPRequestHandler):
    token_requests = []

    def log_message(self, *args):
        pass

    def _send(self, status, body=None, headers=None):
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _authorised(self):
        if self.headers.get("Authorization") == "Bearer anon-token":
            return True
        realm = "http://{0}:{1}/jwt/auth".format(*self.server.server_address)
        self._send(401, {"errors": [{"code": "UNAUTHORIZED"}]}, {
            "WWW-Authenticate": 'Bearer realm="{0}",service="container_registry",'
                                'scope="repository:{1}:pull"'.format(realm, REPO)})
        return False

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/jwt/auth":
            FakeGitLabRegistry.token_requests.append(query)
            return self._send(200, {"token": "anon-token"})
        if not self._authorised():
            return None
        if url.path == "/v2/{0}/tags/list".format(REPO):
            size = int(query.get("n", ["100"])[0])
            start = TAGS.index(query["last"][0]) + 1 if "last" in query else 0
            page = TAGS[start:start + size]
            headers = {}
            if start + size < len(TAGS):
                headers["Link"] = '</v2/{0}/tags/list?last={1}&n={2}>; rel="next"'.format(REPO, page[-1], size)
            return self._send(200, {"name": REPO, "tags": page}, headers)
        return self._send(404, {"errors": [{"code": "NAME_UNKNOWN"}]})

    def do_HEAD(self):
        if not self._authorised():
            return None
        if "application/vnd.docker.distribution.manifest.v2+json" not in self.headers.get("Accept", ""):
            return self._send(404)
        return self._send(200, headers={"Docker-Content-Digest": "sha256:" + "ab" * 32})


@pytest.fixture()
def registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitLabRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeGitLabRegistry.token_requests.clear()
    yield "http://127.0.0.1:{0}".format(server.server_address[1])
    server.shutdown()


def test_bearer_challenge_and_pagination(registry):
    client = RegistryClient(registry, REPO)
    assert sorted(client.list_tags(page_size=5)) == sorted(TAGS)
    assert FakeGitLabRegistry.token_requests == [
        {"service": ["container_registry"], "scope": ["repository:{0}:pull".format(REPO)]}]
    assert client.manifest_digest("self-hosted-v18.2.11-ee") == "sha256:" + "ab" * 32


def test_unknown_repository(registry):
    with pytest.raises(DuoError) as info:
        RegistryClient(registry, "no/such/repo").list_tags()
    assert "HTTP 404" in info.value.msg and "no/such/repo" in info.value.msg


def test_unreachable_registry():
    with pytest.raises(DuoError) as info:
        RegistryClient("http://127.0.0.1:9", REPO, timeout=2).list_tags()
    assert "Cannot reach the registry" in info.value.msg


def test_helpers():
    assert split_registry("registry.gitlab.com") == ("https://registry.gitlab.com", "registry.gitlab.com")
    assert split_registry("http://127.0.0.1:5000/") == ("http://127.0.0.1:5000", "127.0.0.1:5000")
    with pytest.raises(DuoError):
        split_registry("https://host/path")
    assert image_reference("http://127.0.0.1:5000", REPO, "t") == "127.0.0.1:5000/{0}:t".format(REPO)
    assert parse_challenge('Bearer realm="https://gitlab.com/jwt/auth",service="container_registry"') == {
        "realm": "https://gitlab.com/jwt/auth", "service": "container_registry"}
    assert parse_challenge('Basic realm="x"') is None
    assert next_page('</v2/x/tags/list?last=a&n=2>; rel="next"') == "/v2/x/tags/list?last=a&n=2"
    assert next_page(None) is None
