# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # How a module reaches a GitLab instance: its API with a token, or gitlab-rails on its host.
    DOCUMENTATION = r"""
options:
  api_url:
    description: URL of the GitLab instance, for its REST and GraphQL APIs (used with O(api_token)).
    type: str
  api_token:
    description:
      - A GitLab personal access token. With it the module uses the API and boots no Rails.
    type: str
  validate_certs:
    description: Verify GitLab's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: CA bundle to verify GitLab's certificate with.
    type: path
  timeout:
    description: Seconds to wait for each API request.
    type: int
    default: 30
  rails_command:
    description:
      - The command that runs C(gitlab-rails) on this host, as a list. V([gitlab-rails]) on Omnibus;
        V([docker, exec, -i, gitlab, gitlab-rails]) for GitLab in Docker;
        V([kubectl, exec, -i, -n, gitlab, deploy/gitlab-toolbox, --, gitlab-rails]) in Kubernetes.
    type: list
    elements: str
    default: [gitlab-rails]
  version_file:
    description:
      - GitLab's version file (Omnibus path by default).
      - Read on this host, or inside GitLab's container or pod when O(rails_command) enters one (everything
        before its last element is used as the prefix, as in C(docker exec -i gitlab cat <file>)). No Rails boot.
    type: path
    default: /opt/gitlab/embedded/service/gitlab-rails/VERSION
"""
