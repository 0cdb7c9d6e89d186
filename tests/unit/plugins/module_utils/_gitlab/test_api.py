"""The GitLab REST/GraphQL client against a loopback server: the token header, refusals, errors and answers that
are not GitLab's."""

import json

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.api import GitLabApi, api_client
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import Answer, LoopbackHTTP

TOKEN = "glpat-unit-test-token"


def client(server):
    return GitLabApi(server.url + "/", TOKEN, timeout=5)


def test_rest_get_and_put_send_the_token_as_bearer():
    routes = {("GET", "/api/v4/version"): Answer(200, {"version": "18.2.1-ee"}),
              ("PUT", "/api/v4/application/settings"): lambda request: Answer(200, {"echo": request["body"]})}
    with LoopbackHTTP(routes) as server:
        api = client(server)
        assert api.url == server.url
        assert api.get("/api/v4/version") == {"version": "18.2.1-ee"}
        assert api.put("/api/v4/application/settings", {"enabled_expanded_logging": "true"}) == {
            "echo": "enabled_expanded_logging=true"}
    assert [request["headers"]["Authorization"] for request in server.requests] == ["Bearer " + TOKEN] * 2


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_says_which_scope_is_needed(status):
    with LoopbackHTTP({("GET", "/api/v4/version"): Answer(status, {"message": "401 Unauthorized"})}) as server:
        with pytest.raises(DuoError) as info:
            client(server).get("/api/v4/version")
    assert "GitLab refused the API token for GET /api/v4/version (HTTP {0})".format(status) in info.value.msg
    assert "api scope" in info.value.msg and "admin_mode" in info.value.msg
    assert info.value.details["status"] == status and TOKEN not in info.value.msg


@pytest.mark.parametrize("status", [404, 500, 502])
def test_error_status_quotes_the_answer(status):
    with LoopbackHTTP({("GET", "/api/v4/metadata"): Answer(status, "x" * 400)}) as server:
        with pytest.raises(DuoError) as info:
            client(server).get("/api/v4/metadata")
    assert info.value.msg == "GitLab answered HTTP {0} to GET /api/v4/metadata: {1}".format(status, "x" * 300)
    assert info.value.details["status"] == status


def test_an_answer_that_is_not_json_points_at_gitlab_url():
    page = "<html><body>Sign in to the corporate proxy</body></html>"
    with LoopbackHTTP({("GET", "/api/v4/version"): Answer(200, page)}) as server:
        with pytest.raises(DuoError) as info:
            client(server).get("/api/v4/version")
    assert "is not JSON: " + page in info.value.msg and "check that gitlab_url is the GitLab instance" in info.value.msg


def test_graphql_posts_query_and_variables_and_returns_data():
    answer = Answer(200, {"data": {"duoSettings": {"aiGatewayUrl": "https://gw"}}})
    with LoopbackHTTP({("POST", "/api/graphql"): answer}) as server:
        data = client(server).graphql("query { duoSettings { aiGatewayUrl } }", {"a": 1})
    assert data == {"duoSettings": {"aiGatewayUrl": "https://gw"}}
    assert json.loads(server.requests[0]["body"]) == {"query": "query { duoSettings { aiGatewayUrl } }",
                                                      "variables": {"a": 1}}
    assert server.requests[0]["headers"]["Content-Type"] == "application/json"


def test_graphql_without_data_is_empty():
    with LoopbackHTTP({("POST", "/api/graphql"): Answer(200, {"data": None})}) as server:
        assert client(server).graphql("query { x }") == {}


def test_graphql_answer_that_is_not_an_object_is_a_clear_error():
    with LoopbackHTTP({("POST", "/api/graphql"): Answer(200, ["not", "graphql"])}) as server:
        with pytest.raises(DuoError) as info:
            client(server).graphql("query { x }")
    assert "not a GraphQL response" in info.value.msg and "api_url" in info.value.msg


def test_graphql_errors_are_quoted_with_a_fix():
    errors = [{"message": "Field 'duoSettings' doesn't exist on type 'Query'"}, {"locations": [1]}]
    with LoopbackHTTP({("POST", "/api/graphql"): Answer(200, {"errors": errors, "data": None})}) as server:
        with pytest.raises(DuoError) as info:
            client(server).graphql("query { duoSettings { aiGatewayUrl } }")
    assert "refused the request: Field 'duoSettings' doesn't exist on type 'Query'; {'locations': [1]}" in info.value.msg
    assert "supports Duo self-hosted settings" in info.value.msg


def test_unreachable_gitlab():
    with pytest.raises(DuoError) as info:
        GitLabApi("http://127.0.0.1:9", TOKEN, timeout=2).get("/api/v4/version")
    assert info.value.msg.startswith("Cannot reach GitLab at http://127.0.0.1:9 (http://127.0.0.1:9/api/v4/version)")


def test_api_client_only_with_a_token():
    params = {"api_url": "https://gitlab.example.com/", "api_token": None, "validate_certs": False,
              "ca_path": None, "timeout": 9}
    assert api_client(params) is None
    api = api_client(dict(params, api_token=TOKEN))
    assert api.url == "https://gitlab.example.com"
    assert (api.session.verify, api.session.timeout) == (False, 9)
