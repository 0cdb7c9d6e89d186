"""GitLab -> a given gateway URL -> model through GitLab's own client, in one runner call (the lab's Ruby stand-in
runs the generated script): the instance's own self-hosted model by default (its key never leaves GitLab), a given
model's key on standard input only, the reason when the model did not answer, skipped when there is no model."""

import json

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab import round_trip
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import (
    STANDIN_RAILS, Answer, LoopbackHTTP, Standin, module_params, needs_ruby)

INSTANCE_KEY = "sk-instance-model-key"
GIVEN_KEY = "sk-given-model-key"
MODEL = {"name": "Mistral on vLLM", "model": "mistral", "endpoint": "http://vllm.example.com:8000/v1",
         "api_token": INSTANCE_KEY}


def state(models=()):
    return {"ai_settings": {}, "application_settings": {},
            "users": {"root": {"id": 1, "admin": True}, "duo-user": {"id": 2, "code_suggestions": True}},
            "self_hosted_models": list(models),
            "feature_settings": [{"feature": "code_completions", "provider": "self_hosted",
                                  "self_hosted_model": model["name"]} for model in models]}


def params(url, **given):
    return module_params("gitlab_round_trip", gateway_url=url, rails_command=[STANDIN_RAILS], **given)


def gateway(answer):
    return LoopbackHTTP({("POST", "/trial/v1/chat/agent"): answer})


@needs_ruby
def test_the_instances_own_model_answers_through_the_given_url(tmp_path):
    gitlab = Standin(tmp_path, "18.10.0-ee", state([MODEL]))
    with gateway(Answer(200, {"response": "Hello", "metadata": {"provider": "litellm"}})) as server:
        result = round_trip.run(params(server.url + "/trial/", user="duo-user"), gitlab)
    assert result["ok"] and result["status"] == 200 and result["skipped"] is None
    assert result["model"] == {"name": "mistral", "source": "the instance's self-hosted model Mistral on vLLM"}
    (posted,) = server.requests
    assert posted["headers"]["Authorization"].startswith("Bearer ")
    sent = json.loads(posted["body"])["prompt_components"][0]["payload"]
    assert sent == {"content": [{"role": "user", "content": "Hello"}], "provider": "litellm", "model": "mistral",
                    "model_endpoint": MODEL["endpoint"], "model_api_key": INSTANCE_KEY}
    (argv, data), = gitlab.calls
    assert data is None and INSTANCE_KEY not in json.dumps(result)


@needs_ruby
def test_a_given_model_key_travels_on_standard_input_only(tmp_path):
    gitlab = Standin(tmp_path, "17.10.0-ee", state())  # Client.new takes service_name: there
    with gateway(Answer(200, {"response": "Hello"})) as server:
        result = round_trip.run(params(server.url + "/trial", round_trip={
            "model": "llama3", "model_endpoint": "http://llm:8000/v1", "model_api_key": GIVEN_KEY}), gitlab)
    assert result["ok"] and result["model"] == {"name": "llama3", "source": "given"}
    (argv, data), = gitlab.calls
    assert data == GIVEN_KEY and GIVEN_KEY not in " ".join(argv)
    assert json.loads(server.requests[0]["body"])["prompt_components"][0]["payload"]["model_api_key"] == GIVEN_KEY


@needs_ruby
def test_a_model_that_does_not_answer_fails_with_the_reason_and_no_key(tmp_path):
    gitlab = Standin(tmp_path, "18.10.0-ee", state())
    failing = Answer(500, {"detail": "litellm.APIConnectionError: no model at http://llm key " + GIVEN_KEY})
    with gateway(failing) as server:
        with pytest.raises(DuoError) as info:
            round_trip.run(params(server.url + "/trial", round_trip={"model": "llama3", "model_api_key": GIVEN_KEY}),
                           gitlab)
    assert info.value.msg.startswith("GitLab -> {0}/trial -> model llama3: HTTP 500: ".format(server.url))
    assert "litellm.APIConnectionError" in info.value.msg and GIVEN_KEY not in json.dumps(
        [info.value.msg, info.value.details])
    assert info.value.details["ok"] is False and info.value.details["status"] == 500


@needs_ruby
def test_a_gateway_that_cannot_be_reached_is_the_verdict(tmp_path):
    gitlab = Standin(tmp_path, "18.10.0-ee", state([MODEL]))
    with pytest.raises(DuoError) as info:
        round_trip.run(params("http://127.0.0.1:9/trial"), gitlab)
    assert "Errno::ECONNREFUSED" in info.value.msg and info.value.details["status"] is None


@needs_ruby
def test_no_model_is_skipped_unless_one_is_required(tmp_path):
    gitlab = Standin(tmp_path, "18.10.0-ee", state())
    result = round_trip.run(params("http://127.0.0.1:9/trial"), gitlab)
    assert result["skipped"] == "no self-hosted model is configured on this instance" and not result["ok"]
    with pytest.raises(DuoError) as info:
        round_trip.run(params("http://127.0.0.1:9/trial", require_model=True), gitlab)
    assert "configure a self-hosted model" in info.value.msg


@needs_ruby
def test_a_check_that_cannot_run_says_so(tmp_path):
    gitlab = Standin(tmp_path, "18.10.0-ee", dict(state([MODEL]), users={}))
    with pytest.raises(DuoError) as info:
        round_trip.run(params("http://127.0.0.1:9/trial"), gitlab)
    assert info.value.msg == "The model round trip could not run in GitLab: RuntimeError: no user with id 1 in GitLab"


def test_a_bad_url_is_refused_before_gitlab_is_asked():
    with pytest.raises(InputError) as info:
        round_trip.run(params("gateway.example.com"), None)
    assert info.value.details["field"] == "gateway_url"
