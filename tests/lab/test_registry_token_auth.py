"""The registry's Bearer challenge against a real registry: Debian's docker-registry with token auth (as
registry.gitlab.com asks for an anonymous token), serving the lab registry's images, with the lab's token
service. The tag choice, the digest, real Link pagination and the Docker engine's pull all go through it."""

import os
import sys

import docker
import pytest

from .conftest import REPO, free_port, run_module

sys.path.insert(0, os.path.join(REPO, "lab"))
from token_registry import TokenRegistry  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.registry import (  # noqa: E402
    RegistryClient)

GATEWAY_REPOSITORY = "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
SCOPE = "repository:{0}:pull".format(GATEWAY_REPOSITORY)


@pytest.fixture()
def token_registry(lab, tmp_path):
    with TokenRegistry(str(tmp_path)) as registry:
        yield registry


def test_release_chosen_through_the_token_challenge(token_registry):
    rc, result, output = run_module("gateway_release", {"gitlab_version": "18.2.1-ee", "registry": token_registry.url})
    assert rc == 0, output
    assert result["tag"] == "self-hosted-v18.2.10-ee"
    assert result["digest"].startswith("sha256:")
    assert {"service": ["container_registry"], "scope": [SCOPE]} in token_registry.token_requests

    # The same digest as the lab's open registry holds: the token registry serves the same storage.
    open_registry = RegistryClient("http://127.0.0.1:5000", GATEWAY_REPOSITORY)
    assert result["digest"] == open_registry.manifest_digest("self-hosted-v18.2.10-ee")


def test_real_link_pagination_with_a_token(token_registry):
    client = RegistryClient(token_registry.url, GATEWAY_REPOSITORY)
    paged = client.list_tags(page_size=4)
    assert sorted(paged) == sorted(RegistryClient("http://127.0.0.1:5000", GATEWAY_REPOSITORY).list_tags())
    assert len(paged) == len(set(paged)) > 8, "every page once, none twice"
    assert len(token_registry.token_requests) == 1, "one token serves every page"


def test_refused_token_is_a_clear_error(token_registry):
    token_registry.refuse_tokens = True
    rc, result, output = run_module("gateway_release", {"gitlab_version": "18.2.1-ee", "registry": token_registry.url})
    assert rc != 0, output
    assert "token service" in result["msg"] and "/jwt/auth" in result["msg"] and "403" in result["msg"]


def test_docker_pulls_the_gateway_through_the_token_challenge(lab, run_id, token_registry, tmp_path):
    reference = "{0}/{1}:self-hosted-v18.1.1-ee".format(token_registry.url.split("//", 1)[1], GATEWAY_REPOSITORY)
    try:
        lab.images.remove(reference, force=True)  # from an earlier run: the engine must pull it now
    except docker.errors.ImageNotFound:
        pass
    args = {"name": "duo-c-" + run_id, "image": reference, "pull": "always",
            "gitlab_url": "http://gitlab.duo-lab.test:8929", "published_port": free_port(),
            "bind_address": "127.0.0.1", "jwt_keys_dir": str(tmp_path / "keys"), "health_timeout": 8,
            "labels": {"gitlab_duo.test": run_id}}
    asked = len(token_registry.token_requests)
    rc, result, output = run_module("gateway_container", args)
    assert rc == 0 and result["changed"], output
    assert lab.containers.get("duo-c-" + run_id).status == "running"
    assert len(token_registry.token_requests) > asked, "the engine asked the token service for a pull token"
