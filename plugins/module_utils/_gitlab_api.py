# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A minimal GitLab REST and GraphQL client (private to gitlab_duo.self_hosted)."""

from __future__ import annotations

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

try:
    import requests
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_REQUESTS = False


class GitLabApi:
    def __init__(self, url, token, verify=True, timeout=30):
        self.url = url.rstrip("/")
        self.verify = verify
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + token

    def request(self, method, path, **kwargs):
        url = self.url + path
        try:
            response = self.session.request(method, url, verify=self.verify, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise DuoError("Cannot reach GitLab at {0}: {1}. Fix: check gitlab_url, DNS, proxies and "
                           "certificates (ca_path).".format(self.url, exc))
        if response.status_code in (401, 403):
            raise DuoError("GitLab refused the API token for {0} {1} (HTTP {2}). Fix: use an administrator's "
                           "token with the api scope (and admin_mode when Admin Mode is on).".format(
                               method, path, response.status_code), status=response.status_code)
        if response.status_code >= 400:
            raise DuoError("GitLab answered HTTP {0} to {1} {2}: {3}".format(
                response.status_code, method, path, response.text[:300]), status=response.status_code)
        try:
            return response.json()
        except ValueError:
            raise DuoError("GitLab's answer to {0} {1} is not JSON: {2}. Fix: check that gitlab_url is the "
                           "GitLab instance, not a proxy page.".format(method, path, response.text[:200]))

    def get(self, path):
        return self.request("GET", path)

    def put(self, path, data):
        return self.request("PUT", path, data=data)

    def graphql(self, query, variables=None):
        body = self.request("POST", "/api/graphql", json={"query": query, "variables": variables or {}})
        if body.get("errors"):
            messages = "; ".join(error.get("message", str(error)) for error in body["errors"])
            raise DuoError("GitLab's GraphQL API refused the request: {0}. Fix: check the token's scopes and "
                           "that this GitLab version supports Duo self-hosted settings.".format(messages))
        return body.get("data") or {}
