import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.environment import (
    CA_BUNDLE_IN_CONTAINER, REDACTED, api_port, gateway_environment, is_secret_name, mask_env)


def test_derived_defaults():
    env = gateway_environment("https://gitlab.example.com/")
    assert env["AIGW_GITLAB_URL"] == "https://gitlab.example.com"
    assert env["AIGW_GITLAB_API_URL"] == "https://gitlab.example.com/api/v4/"
    assert env["AIGW_CUSTOM_MODELS__ENABLED"] == "true"
    assert "AIGW_FASTAPI__METRICS_PORT" not in env
    assert "SSL_CERT_FILE" not in env and "AIGW_CUSTOMER_PORTAL_URL" not in env


def test_host_network_ca_airgapped_and_overrides():
    env = gateway_environment("https://gitlab.example.com", gitlab_api_url="https://api.example.com/api/v4",
                              host_network=True, ca_bundle=True, airgapped=True,
                              extra={"AIGW_CUSTOM_MODELS__DISABLE_STREAMING": True, "HF_HOME": "/var/tmp/hf"},
                              secret_extra={"MODEL_API_KEY": "s3cr3t"})
    assert env["AIGW_GITLAB_API_URL"] == "https://api.example.com/api/v4/"
    assert env["AIGW_FASTAPI__METRICS_PORT"] == "8083"
    assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == CA_BUNDLE_IN_CONTAINER
    assert env["AIGW_CUSTOMER_PORTAL_URL"] == env["DUO_WORKFLOW_AUTH__OIDC_CUSTOMER_PORTAL_URL"] == "https://gitlab.example.com"
    assert env["AIGW_CUSTOM_MODELS__DISABLE_STREAMING"] == "true"
    assert env["MODEL_API_KEY"] == "s3cr3t"


@pytest.mark.parametrize("value", [True, "true", "TRUE", "1", "yes"])
def test_auth_bypass_refused(value):
    with pytest.raises(InputError) as info:
        gateway_environment("https://gitlab.example.com", extra={"AIGW_AUTH__BYPASS_EXTERNAL": value})
    assert "allow_auth_bypass=true" in info.value.msg


def test_auth_bypass_allowed_for_troubleshooting():
    env = gateway_environment("https://gitlab.example.com", extra={"AIGW_AUTH__BYPASS_EXTERNAL": True},
                              allow_auth_bypass=True)
    assert env["AIGW_AUTH__BYPASS_EXTERNAL"] == "true"
    assert gateway_environment("https://g.example.com", extra={"AIGW_AUTH__BYPASS_EXTERNAL": False})


def test_bad_gitlab_url():
    with pytest.raises(InputError) as info:
        gateway_environment("gitlab.example.com")
    assert "gitlab_url='gitlab.example.com'" in info.value.msg


def test_masking():
    assert is_secret_name("AIGW_SELF_SIGNED_JWT__SIGNING_KEY") and is_secret_name("model_api_token")
    assert not is_secret_name("AIGW_GITLAB_URL")
    masked = mask_env({"A_KEY": "x", "PLAIN": "y", "CUSTOM": "z"}, secret_names=("CUSTOM",))
    assert masked == {"A_KEY": REDACTED, "CUSTOM": REDACTED, "PLAIN": "y"}


def test_api_port():
    assert api_port({}) == 5052
    assert api_port({"AIGW_FASTAPI__API_PORT": "6000"}) == 6000
    with pytest.raises(InputError):
        api_port({"AIGW_FASTAPI__API_PORT": "x"})
