# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Docker Registry HTTP API v2 client (private to gitlab_duo.self_hosted).

Lists tags (following ``Link`` pagination) and reads manifest digests, answering the
registry's ``WWW-Authenticate: Bearer`` challenge with an anonymous (or basic-auth) token,
as registry.gitlab.com requires.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import image_reference as join_image
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import Session

DEFAULT_REGISTRY = "registry.gitlab.com"
DEFAULT_REPOSITORY = "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
MAX_PAGES = 200


def split_registry(registry):
    """('https://host:port', 'host:port') from ``host``, ``host:port`` or a URL with a scheme."""
    value = (registry or DEFAULT_REGISTRY).rstrip("/")
    if value.startswith(("http://", "https://")):
        scheme, host = value.split("://", 1)
    else:
        scheme, host = "https", value
    if not host or "/" in host:
        raise DuoError(
            "registry={0!r}: not a registry host. Fix: give host[:port], optionally with "
            "http:// or https://, e.g. registry.gitlab.com or http://127.0.0.1:5000".format(registry),
            field="registry",
        )
    return "{0}://{1}".format(scheme, host), host


def image_reference(registry, repository, tag, digest=None):
    """The pullable reference of ``tag`` in ``registry`` (a URL or host), pinned to ``digest`` when given."""
    return join_image(split_registry(registry)[1], repository, tag, digest)


def parse_challenge(header):
    """{'realm':..., 'service':..., 'scope':...} from a Bearer ``WWW-Authenticate`` header, else None."""
    if not header or not header.strip().lower().startswith("bearer "):
        return None
    return dict(_CHALLENGE_PARAM.findall(header))


def next_page(link_header):
    match = _LINK_NEXT.search(link_header or "")
    return match.group(1) if match else None


class RegistryClient:
    def __init__(self, registry, repository, username=None, password=None, validate_certs=True, ca_path=None,
                 timeout=30, session=None):
        self.base, self.host = split_registry(registry)
        self.repository = repository.strip("/")
        self.auth = (username, password) if username else None
        self.session = session or Session(validate_certs, ca_path, timeout)
        self.token = None

    def _get(self, url, method="GET", headers=None):
        headers = dict(headers or {})
        for attempt in (1, 2):
            if self.token:
                headers["Authorization"] = "Bearer " + self.token
            response = self.session.request(method, url, "the registry at " + self.base, headers=headers)
            if response.status_code == 401 and attempt == 1:
                challenge = parse_challenge(response.headers.get("WWW-Authenticate"))
                if challenge and challenge.get("realm"):
                    self.token = self._fetch_token(challenge)
                    continue
            return response
        return response

    def _fetch_token(self, challenge):
        params = {key: challenge[key] for key in ("service", "scope") if challenge.get(key)}
        response = self.session.request("GET", challenge["realm"], "the registry's token service", params=params,
                                        auth=self.auth)
        if response.status_code != 200:
            raise DuoError("The registry's token service {0} answered HTTP {1}. Fix: check registry credentials "
                           "and that the repository {2} exists.".format(challenge["realm"], response.status_code,
                                                                        self.repository))
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise DuoError("The registry's token service {0} returned no token".format(challenge["realm"]))
        return token

    def _check(self, response, what):
        if response.status_code == 404:
            raise DuoError("The registry {0} has no repository {1} ({2}: HTTP 404). Fix: check registry and "
                           "repository.".format(self.base, self.repository, what))
        if response.status_code != 200:
            raise DuoError("The registry {0} answered HTTP {1} for {2} of {3}".format(
                self.base, response.status_code, what, self.repository))

    def list_tags(self, page_size=1000):
        url = "{0}/v2/{1}/tags/list?n={2}".format(self.base, self.repository, page_size)
        tags = []
        for _page in range(MAX_PAGES):
            response = self._get(url)
            self._check(response, "the tag list")
            tags.extend(response.json().get("tags") or [])
            link = next_page(response.headers.get("Link"))
            if not link:
                return tags
            url = urljoin(self.base + "/", link)
        raise DuoError("The registry's tag list of {0} goes on past {1} pages".format(self.repository, MAX_PAGES))

    def manifest_digest(self, tag):
        url = "{0}/v2/{1}/manifests/{2}".format(self.base, self.repository, tag)
        response = self._get(url, method="HEAD", headers={"Accept": MANIFEST_TYPES})
        if response.status_code != 200:
            return None
        return response.headers.get("Docker-Content-Digest")
