# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A minimal GitLab REST and GraphQL client on the collection's HTTP layer (private to gitlab_duo.self_hosted)."""

from __future__ import annotations

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import Session


class GitLabApi:
    def __init__(self, url, token, validate_certs=True, ca_path=None, timeout=30):
        self.url = url.rstrip("/")
        self.session = Session(validate_certs, ca_path, timeout, headers={"Authorization": "Bearer " + token})

    def request(self, method, path, **kwargs):
        response = self.session.request(method, self.url + path, "GitLab at " + self.url, **kwargs)
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
        if not isinstance(body, dict):
            raise DuoError("GitLab's GraphQL API answered {0}, not a GraphQL response. Fix: check that api_url is "
                           "the GitLab instance, not a proxy page.".format(str(body)[:200]))
        if body.get("errors"):
            messages = "; ".join(error.get("message", str(error)) for error in body["errors"])
            raise DuoError("GitLab's GraphQL API refused the request: {0}. Fix: check the token's scopes and "
                           "that this GitLab version supports Duo self-hosted settings.".format(messages))
        return body.get("data") or {}


def api_client(params):
    """A GitLabApi from a module's GitLab options when a token is given, else None (use gitlab-rails)."""
    if not params.get("api_token"):
        return None
    return GitLabApi(params["api_url"], params["api_token"], params["validate_certs"], params["ca_path"],
                     params["timeout"])
