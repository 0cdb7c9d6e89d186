"""The GitLab-facing options, declared once: what gitlab_argument_spec gives a module, and the token never logged."""

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab import options
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.rails import OMNIBUS_RAILS
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import OMNIBUS_VERSION_FILE
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._http import HTTP_OPTIONS


def test_gitlab_argument_spec_has_api_rails_and_http_options_plus_extra():
    spec = options.gitlab_argument_spec(ai_gateway_url=dict(type="str"), timeout=dict(type="int", default=5))
    assert sorted(spec) == ["ai_gateway_url", "api_token", "api_url", "ca_path", "rails_command", "timeout",
                            "validate_certs", "version_file"]
    assert spec["api_token"]["no_log"] is True and spec["rails_command"]["default"] == OMNIBUS_RAILS
    assert spec["version_file"]["default"] == OMNIBUS_VERSION_FILE
    assert spec["timeout"] == {"type": "int", "default": 5}, "a module's own declaration wins"
    assert spec["validate_certs"] is HTTP_OPTIONS["validate_certs"]
    assert options.gitlab_argument_spec()["timeout"] == HTTP_OPTIONS["timeout"]
    assert options.GITLAB_REQUIRED_TOGETHER == [("api_url", "api_token")]


def test_the_default_command_list_is_not_shared_with_callers():
    spec = options.gitlab_argument_spec()
    assert spec["rails_command"]["default"] is not OMNIBUS_RAILS
    assert options.RAKE_COMMAND_OPTION["default"] == ["gitlab-rake"]
