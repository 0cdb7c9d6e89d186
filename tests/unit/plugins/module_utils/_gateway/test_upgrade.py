"""Where a gateway stands against its instance(s): every action of decide() for every form of Config.Image, the
skew states, the sizing arithmetic from GitLab's figures, and the gateway_upgrade_plan service on a fake engine."""

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway import upgrade
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.upgrade import (
    decide, gateways_needed, sizing_warning, skew_state)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import parse_gitlab_version
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import FakeDocker, module_params

REPO = "registry.gitlab.com/gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
DIGEST = "sha256:" + "ab" * 32
ONE = [{"instance": "gitlab-a", "version": "18.3.1-ee"}]


def forms(tag):
    """Every way Config.Image names a tag: plain, pinned to a digest, and with a registry port."""
    return [REPO + ":" + tag, REPO + ":" + tag + "@" + DIGEST, "127.0.0.1:5000/ai-gateway:" + tag]


@pytest.mark.parametrize("image", forms("self-hosted-v18.2.10-ee"))
def test_behind_is_upgrade(image):
    answer = decide(image, "self-hosted-v18.3.0-ee", ONE)
    assert answer == dict(action="upgrade", current_tag="self-hosted-v18.2.10-ee", target_tag="self-hosted-v18.3.0-ee",
                          why="it runs self-hosted-v18.2.10-ee, older than self-hosted-v18.3.0-ee (the target)")


@pytest.mark.parametrize("current, target", [
    ("self-hosted-v18.3.0-ee", "self-hosted-v18.3.1-ee"),     # a patch
    ("self-hosted-v18.2.9-ee", "self-hosted-v18.2.10-ee"),    # numeric, not lexical
    ("self-hosted-v18.9.0-ee", "self-hosted-v18.10.0-ee"),    # 18.10 is after 18.9
    ("self-hosted-v17.11.3-ee", "self-hosted-v18.0.0-ee"),    # a major
])
def test_upgrade_compares_numbers(current, target):
    assert decide(REPO + ":" + current, target, ONE)["action"] == "upgrade"
    assert decide(REPO + ":" + target, current, ONE)["action"] == "ahead"


@pytest.mark.parametrize("image", forms("self-hosted-v18.3.1-ee"))
def test_same_tag_is_current(image):
    answer = decide(image, "self-hosted-v18.3.1-ee", ONE)
    assert answer["action"] == "current" and answer["current_tag"] == answer["target_tag"] == "self-hosted-v18.3.1-ee"


@pytest.mark.parametrize("image", forms("self-hosted-v18.4.0-ee"))
def test_newer_is_ahead_and_says_it_is_not_downgraded(image):
    answer = decide(image, "self-hosted-v18.3.1-ee", ONE)
    assert answer["action"] == "ahead" and "never downgraded silently" in answer["why"]
    assert answer["target_tag"] == "self-hosted-v18.3.1-ee"


@pytest.mark.parametrize("image", [None, ""])
def test_no_container_is_not_installed(image):
    answer = decide(image, "self-hosted-v18.3.1-ee", ONE)
    assert answer["action"] == "not_installed" and "install.yml" in answer["why"]
    assert answer["current_tag"] is None and answer["target_tag"] == "self-hosted-v18.3.1-ee"


SKEWED = [{"instance": "gitlab-a", "version": "18.2.1-ee"}, {"instance": "gitlab-b", "version": "18.3.0-ee"}]


def test_instances_on_different_minors_are_skew_and_left_alone():
    answer = decide(REPO + ":self-hosted-v18.2.10-ee", "self-hosted-v18.3.0-ee", SKEWED)
    assert answer["action"] == "skew" and answer["target_tag"] is None
    assert "gitlab-a (GitLab 18.2.1)" in answer["why"] and "gitlab-b (GitLab 18.3.0)" in answer["why"]
    assert "ai_gateway_image_tag" in answer["why"]


def test_instances_on_one_minor_are_no_skew():
    same = [{"instance": "gitlab-a", "version": "18.3.0-ee"}, {"instance": "gitlab-b", "version": "v18.3.2"}]
    assert decide(REPO + ":self-hosted-v18.2.10-ee", "self-hosted-v18.3.0-ee", same)["action"] == "upgrade"


@pytest.mark.parametrize("current, action", [
    ("self-hosted-v18.2.10-ee", "upgrade"), ("self-hosted-v18.3.0-ee", "current"), ("self-hosted-v18.3.1-ee", "ahead")])
def test_a_pinned_tag_wins_over_skew_and_over_the_target(current, action):
    answer = decide(REPO + ":" + current, "self-hosted-v18.2.10-ee", SKEWED, pinned_tag="self-hosted-v18.3.0-ee")
    assert answer["action"] == action and answer["target_tag"] == "self-hosted-v18.3.0-ee"
    assert "pinned by ai_gateway_image_tag" in answer["why"]


def test_a_pinned_tag_alone_needs_no_target():
    assert decide(REPO + ":self-hosted-v18.2.10-ee", None, ONE, "self-hosted-v18.3.0-ee")["action"] == "upgrade"


@pytest.mark.parametrize("image, tag, says", [
    (REPO + "@" + DIGEST, None, "by digest alone"),
    (REPO + ":latest", "latest", "not backward compatible"),
    (REPO + ":nightly", "nightly", "not backward compatible"),
    (REPO + ":nightly-2026-11-01@" + DIGEST, "nightly-2026-11-01", "not backward compatible"),
    (REPO + ":self-hosted-v18.2.11-ee-rc1", "self-hosted-v18.2.11-ee-rc1", "is not a self-hosted-vX.Y.Z-ee release"),
    (REPO + ":v1.4.0", "v1.4.0", "is not a self-hosted-vX.Y.Z-ee release"),
    (REPO, None, "has no tag"),
])
def test_an_unreadable_tag_is_unknown_and_says_what_to_do(image, tag, says):
    answer = decide(image, "self-hosted-v18.3.0-ee", ONE)
    assert answer["action"] == "unknown" and answer["current_tag"] == tag
    assert says in answer["why"] and "Fix:" in answer["why"]
    assert answer["target_tag"] == "self-hosted-v18.3.0-ee"


def test_every_action_is_reachable():
    seen = {decide(image, "self-hosted-v18.3.0-ee", versions)["action"] for image, versions in [
        (REPO + ":self-hosted-v18.2.1-ee", ONE), (REPO + ":self-hosted-v18.3.0-ee", ONE),
        (REPO + ":self-hosted-v18.4.0-ee", ONE), (REPO + ":self-hosted-v18.2.1-ee", SKEWED), (None, ONE),
        (REPO + ":latest", ONE)]}
    assert seen == set(upgrade.ACTIONS)


@pytest.mark.parametrize("args, field", [
    ((REPO + ":self-hosted-v18.2.1-ee", "latest", ONE), "target_tag"),
    ((REPO + ":self-hosted-v18.2.1-ee", "self-hosted-v18.3-ee", ONE), "target_tag"),
    ((REPO + ":self-hosted-v18.2.1-ee", "self-hosted-v18.3.0-ee", ONE, "nightly"), "pinned_tag"),
    ((REPO + ":self-hosted-v18.2.1-ee", "self-hosted-v18.3.0-ee", [{"instance": "a", "version": "18.x"}]),
     "instance_versions[0].version"),
    ((REPO + ":self-hosted-v18.2.1-ee", "self-hosted-v18.3.0-ee", [{"version": "18.2.1"}]), "instance_versions[0]"),
    ((REPO + ":self-hosted-v18.2.1-ee", "self-hosted-v18.3.0-ee", "gitlab-a"), "instance_versions"),
    ((REPO + ":self-hosted-v18.2.1-ee", None, ONE), "target_tag"),
])
def test_bad_input_names_the_field_and_the_fix(args, field):
    with pytest.raises(InputError) as info:
        decide(*args)
    assert info.value.details["field"] == field and "Fix:" in info.value.msg


def test_bad_input_is_refused_even_when_there_is_no_container():
    with pytest.raises(InputError):
        decide(None, "latest", ONE)


# -- skew_state: one gateway beside one instance ------------------------------------------------------------

V = parse_gitlab_version


@pytest.mark.parametrize("tag, version, state", [
    ("self-hosted-v18.2.10-ee", "18.2.1-ee", "matches"),   # the patch number is the gateway's own
    ("self-hosted-v18.2.0-ee", "18.2.9-ee", "matches"),
    ("self-hosted-v18.1.5-ee", "18.2.1-ee", "lags"),
    ("self-hosted-v18.9.0-ee", "18.10.0-ee", "lags"),
    ("self-hosted-v18.3.0-ee", "18.2.1-ee", "leads"),
    ("self-hosted-v19.0.0-ee", "18.11.0-ee", "leads"),
])
def test_skew_state_by_major_minor(tag, version, state):
    answer = skew_state(REPO + ":" + tag + "@" + DIGEST, "gitlab-a", V(version), [("gitlab-a", V(version))])
    assert answer["state"] == state and answer["gateway_tag"] == tag


def test_skew_state_of_the_other_cases():
    assert skew_state(None, "gitlab-a", V("18.2.1"))["state"] == "not_installed"
    assert skew_state(REPO + "@" + DIGEST, "gitlab-a", V("18.2.1"))["state"] == "unknown"
    unknown = skew_state(REPO + ":self-hosted-v18.2.1-ee", "gitlab-a", None)
    assert unknown["state"] == "unknown" and "version of gitlab-a is not known" in unknown["why"]
    served = [("gitlab-a", V("18.2.1")), ("gitlab-b", V("18.3.0")), ("gitlab-c", None)]
    skewed = skew_state(REPO + ":self-hosted-v18.2.1-ee", "gitlab-a", V("18.2.1"), served)
    assert skewed["state"] == "skew" and "gitlab-b (GitLab 18.3.0)" in skewed["why"] and "gitlab-c" not in skewed["why"]


# -- sizing -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("users, rps, concurrent, gateways", [
    (0, 0.0, 0, 1), (1, 0.01, 1, 1), (50, 0.35, 21, 1), (95, 0.67, 40, 1), (96, 0.67, 41, 2),
    (200, 1.4, 84, 3), (1000, 7.0, 420, 11), (10000, 70.0, 4200, 105),
])
def test_gateways_needed_from_the_documented_figures(users, rps, concurrent, gateways):
    sizing = gateways_needed(users)
    assert (sizing["users"], sizing["requests_per_second"], sizing["concurrent"], sizing["gateways"]) == (
        users, rps, concurrent, gateways)
    assert "7 requests/s per 1000 users" in sizing["basis"] and "40 concurrent requests per 2 vCPU / 8 GB" in sizing["basis"]


def test_request_seconds_changes_the_concurrency():
    assert gateways_needed(1000, request_seconds=600)["concurrent"] == 4200
    assert gateways_needed(1000, request_seconds=5) == dict(
        gateways_needed(1000, request_seconds=5), concurrent=35, gateways=1, request_seconds=5)
    with pytest.raises(InputError) as info:
        gateways_needed(1000, request_seconds=0)
    assert info.value.details["field"] == "request_seconds"


@pytest.mark.parametrize("users", [-1, 1.5, "500", None, True, [500]])
def test_bad_user_counts_name_the_inventory_variable(users):
    with pytest.raises(InputError) as info:
        gateways_needed(users)
    assert info.value.details["field"] == "ai_gateway_expected_users"
    assert "ai_gateway_expected_users=" in info.value.msg and "Fix:" in info.value.msg


def test_sizing_warning_only_when_the_pool_is_smaller():
    sizing = gateways_needed(1000)
    assert sizing_warning(sizing, None) is None and sizing_warning(sizing, 11) is None
    assert "2 gateway(s) serve this instance, fewer than the 11" in sizing_warning(sizing, 2)


# -- the gateway_upgrade_plan service -----------------------------------------------------------------------

@pytest.fixture()
def engine(monkeypatch):
    client = FakeDocker(local=[REPO + ":self-hosted-v18.2.10-ee@" + DIGEST, REPO + "@" + DIGEST])
    monkeypatch.setattr(upgrade, "docker_client", lambda docker_host, timeout=60: client)
    return client


def params(**given):
    return module_params("gateway_upgrade_plan", **given)


def test_plan_reads_the_running_image_and_decides(engine):
    engine.containers.create(REPO + ":self-hosted-v18.2.10-ee@" + DIGEST, name="gitlab-ai-gateway")
    result = upgrade.plan(params(target_tag="self-hosted-v18.3.0-ee", instance_versions=ONE))
    assert result == dict(changed=False, action="upgrade", current_image=REPO + ":self-hosted-v18.2.10-ee@" + DIGEST,
                          current_tag="self-hosted-v18.2.10-ee", target_tag="self-hosted-v18.3.0-ee",
                          container_exists=True, why=result["why"])
    assert engine.changes() == [("created", "gitlab-ai-gateway")], "the plan changed something"


def test_plan_without_a_container(engine):
    result = upgrade.plan(params(name="other", target_tag="self-hosted-v18.3.0-ee", instance_versions=ONE))
    assert result["action"] == "not_installed" and result["container_exists"] is False and result["current_image"] is None


def test_plan_without_a_target_only_reads(engine):
    engine.containers.create(REPO + ":self-hosted-v18.2.10-ee@" + DIGEST, name="gitlab-ai-gateway")
    result = upgrade.plan(params())
    assert result["action"] is None and result["current_tag"] == "self-hosted-v18.2.10-ee"
    assert "nothing compared" in result["why"]
    engine.containers.create(REPO + "@" + DIGEST, name="by-digest")
    assert upgrade.plan(params(name="by-digest"))["action"] == "unknown"


def test_plan_sizing_and_its_warning(engine):
    result = upgrade.plan(params(target_tag="self-hosted-v18.3.0-ee", expected_users=1000, pool_size=2))
    assert result["sizing"]["gateways"] == 11 and result["sizing"]["pool_size"] == 2
    assert "fewer than the 11" in result["sizing"]["warning"]
    enough = upgrade.plan(params(expected_users=40, pool_size=1))["sizing"]
    assert "warning" not in enough and enough["gateways"] == 1
    assert "sizing" not in upgrade.plan(params())


@pytest.mark.parametrize("given, field", [
    ({"expected_users": -3}, "ai_gateway_expected_users"), ({"pool_size": 0}, "pool_size"),
    ({"target_tag": "latest"}, "target_tag"), ({"pinned_tag": "self-hosted-v18.3"}, "pinned_tag"),
    ({"instance_versions": [{"instance": "a", "version": "eighteen"}]}, "instance_versions[0].version"),
])
def test_plan_refuses_bad_input_before_asking_the_engine(monkeypatch, given, field):
    def unreachable(docker_host, timeout=60):
        raise DuoError("the engine was asked")
    monkeypatch.setattr(upgrade, "docker_client", unreachable)
    with pytest.raises(InputError) as info:
        upgrade.plan(params(**given))
    assert info.value.details["field"] == field
