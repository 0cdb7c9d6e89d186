import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.environment import (
    CA_BUNDLE_IN_CONTAINER, REDACTED, api_port, auth_bypasses, gateway_environment, is_secret_name, mask_env)


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


# Every way the gateway's pydantic-settings reads an authentication bypass (ai_gateway/config.py ConfigAuth).
BYPASSING = [
    {"AIGW_AUTH__BYPASS_EXTERNAL": True}, {"AIGW_AUTH__BYPASS_EXTERNAL": "true"},
    {"AIGW_AUTH__BYPASS_EXTERNAL": "TRUE"}, {"AIGW_AUTH__BYPASS_EXTERNAL": "1"},
    {"AIGW_AUTH__BYPASS_EXTERNAL": "yes"}, {"AIGW_AUTH__BYPASS_EXTERNAL": "Y"}, {"AIGW_AUTH__BYPASS_EXTERNAL": "t"},
    {"AIGW_AUTH__BYPASS_EXTERNAL": "On"}, {"AIGW_AUTH__BYPASS_EXTERNAL": " yes "},
    {"aigw_auth__bypass_external": "true"}, {"Aigw_Auth__Bypass_External": "1"},
    {"AIGW_AUTH__BYPASS_JWT_SIGNATURE": "true"}, {"AIGW_AUTH__BYPASS_EXTERNAL_WITH_HEADER": "on"},
    {"AIGW_AUTH": '{"bypass_external": true}'}, {"aigw_auth": '{"bypass_jwt_signature": "yes"}'},
    {"AIGW_AUTH": '{"bypass_external_with_header": 1}'},
    {"AIGW_AUTH": '{"bypass_external": false}', "AIGW_AUTH__BYPASS_EXTERNAL": "t"},
]
NOT_BYPASSING = [
    {"AIGW_AUTH__BYPASS_EXTERNAL": False}, {"AIGW_AUTH__BYPASS_EXTERNAL": "false"},
    {"AIGW_AUTH__BYPASS_EXTERNAL": "0"}, {"AIGW_AUTH__BYPASS_EXTERNAL": "off"}, {"AIGW_AUTH__BYPASS_EXTERNAL": ""},
    {"AIGW_AUTH": '{"bypass_external": false}'}, {"AIGW_AUTH": "not json"},
    # a nested variable overrides the parent's JSON field, as pydantic-settings merges them
    {"AIGW_AUTH": '{"bypass_external": true}', "AIGW_AUTH__BYPASS_EXTERNAL": "false"},
    {"AIGW_AUTHX__BYPASS_EXTERNAL": "true"}, {"BYPASS_EXTERNAL": "true"},
]


@pytest.mark.parametrize("extra", BYPASSING, ids=[repr(e) for e in BYPASSING])
def test_auth_bypass_refused_in_every_spelling(extra):
    assert auth_bypasses(extra)
    with pytest.raises(InputError) as info:
        gateway_environment("https://gitlab.example.com", extra=extra)
    assert "allow_auth_bypass=true" in info.value.msg and "env." in info.value.msg


@pytest.mark.parametrize("extra", NOT_BYPASSING, ids=[repr(e) for e in NOT_BYPASSING])
def test_auth_bypass_off_spellings(extra):
    assert auth_bypasses(extra) == []
    assert gateway_environment("https://gitlab.example.com", extra=extra)


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


@pytest.mark.parametrize("name", ["MODEL_API_KEY", "hf_token", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD"])
def test_secret_looking_names_refused_in_plain_env(name):
    with pytest.raises(InputError) as info:
        gateway_environment("https://gitlab.example.com", extra={name: "plain-secret-value"})
    assert "secret_env" in info.value.msg and "plain-secret-value" not in info.value.msg
    assert gateway_environment("https://gitlab.example.com", secret_extra={name: "v"})[name] == "v"
