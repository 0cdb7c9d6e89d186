# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a gateway stands against the release its GitLab instance(s) call for (private to gitlab_duo.self_hosted):
what an upgrade should do (``decide``), how a gateway's tag sits beside each instance's version (``skew_state``)
and how many gateways the documented sizing figures call for (``gateways_needed``). Every tag rule is release.py's.

The gateway_upgrade_plan service (``plan``) reads the running container and answers with both.
"""

from __future__ import annotations

import math
from fractions import Fraction

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import docker_client, find
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.release import (
    release_parts, running_release)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import (
    format_version, parse_gitlab_version)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import number_in_range

# What decide() answers, and what skew_state() says of one gateway beside one instance.
ACTIONS = ("upgrade", "current", "ahead", "skew", "not_installed", "unknown")
SKEW_STATES = ("matches", "lags", "leads", "skew", "unknown", "not_installed", "no_gateway")

# GitLab's sizing figures ("Install the GitLab AI gateway", the autoscaling question; DOMAIN.md section 5):
# "about 7 RPS (requests per second) per 1000 active users is a reasonable planning figure" (GitLab.com usage),
# and "a single AI gateway instance (2 CPU cores and 8 GB RAM) can handle about 40 concurrent requests".
REQUESTS_PER_SECOND_PER_1000_USERS = 7
CONCURRENT_PER_GATEWAY = 40
# How long one request holds a gateway's slot. The docs give no mean duration; a gateway request streams and may
# last up to the instance's ai_gateway_timeout_seconds, whose default is 60 (GitLab allows 60-600).
DEFAULT_REQUEST_SECONDS = 60
EXPECTED_USERS_FIELD = "ai_gateway_expected_users"


def parsed_instances(instance_versions, field="instance_versions"):
    """[(instance, GitLabVersion)] from [{instance, version}]; InputError naming the entry that is wrong."""
    if not isinstance(instance_versions, (list, tuple)):
        raise InputError(field, instance_versions, "is not a list", "give a list of {instance, version} entries")
    found = []
    for index, entry in enumerate(instance_versions):
        where = "{0}[{1}]".format(field, index)
        if not isinstance(entry, dict) or not entry.get("instance"):
            raise InputError(where, entry, "is not an {instance, version} entry",
                             "give e.g. {instance: gitlab.example.com, version: 18.2.1-ee}")
        found.append((str(entry["instance"]), parse_gitlab_version(entry.get("version"), field=where + ".version")))
    return found


def minors_differ(instances):
    """The instances grouped by major.minor when more than one minor is among them; else None."""
    minors = {}
    for name, version in instances:
        minors.setdefault((version.major, version.minor), []).append((name, version))
    return minors if len(minors) > 1 else None


def _served(instances):
    return ", ".join("{0} (GitLab {1})".format(name, format_version(version)) for name, version in instances)


def _answer(action, why, current_tag, target_tag):
    return dict(action=action, why=why, current_tag=current_tag, target_tag=target_tag)


def standing(current_image, instance_versions, pinned_tag=None):
    """What can be said before any comparison with a target: ``not_installed``, ``skew`` or ``unknown`` (a decide()
    answer with ``target_tag`` None), or None when the running release is readable and a target is needed."""
    instances = parsed_instances(instance_versions)
    if pinned_tag:
        release_parts(pinned_tag, "pinned_tag")
    if not current_image:
        return _answer("not_installed", "no gateway container on this host, so there is nothing to upgrade. Fix: "
                       "run install.yml for it", None, pinned_tag or None)
    tag, _parts, problem = running_release(current_image)
    if not pinned_tag and minors_differ(instances):
        return _answer("skew", "it serves {0}, whose minor versions differ; one gateway cannot match both, so it is "
                       "left alone. Fix: bring the instances to one minor, give each its own gateway, or pin a tag "
                       "with ai_gateway_image_tag".format(_served(instances)), tag, None)
    if problem:
        return _answer("unknown", "cannot compare: " + problem, tag, pinned_tag or None)
    return None


def decide(current_image, target_tag, instance_versions, pinned_tag=None):
    """What an upgrade should do with the gateway that runs ``current_image`` (its container's ``Config.Image``:
    ``registry/repo:tag``, ``registry/repo:tag@sha256:...``, ``repo@sha256:...``; None when there is no container).

    ``target_tag``: the release chosen for the served instance's version (gateway_release); ``instance_versions``:
    [{instance, version}] of every instance the gateway serves; ``pinned_tag`` (ai_gateway_image_tag) replaces the
    target and wins over skew. Returns dict(action, why, current_tag, target_tag), action one of ``ACTIONS``:
    ``upgrade`` (the running release is older than the target), ``current`` (the same release), ``ahead`` (newer:
    reported, never downgraded silently), ``skew`` (instances on different minors, no pin: left alone),
    ``not_installed`` (no container: run install.yml), ``unknown`` (the running tag is no release: digest only,
    nightly, latest; ``why`` says what to do). Bad input raises InputError before anything is compared.
    """
    if target_tag:
        release_parts(target_tag, "target_tag")
    answer = standing(current_image, instance_versions, pinned_tag)
    wanted = pinned_tag or target_tag
    if answer is not None:
        return dict(answer, target_tag=None if answer["action"] == "skew" else wanted or None)
    if not wanted:
        raise InputError("target_tag", target_tag, "is needed to compare the running release with",
                         "pass the tag gateway_release chose for the instance's version, or a pinned_tag")
    tag, parts, _problem = running_release(current_image)
    wanted_parts = release_parts(wanted, "pinned_tag" if pinned_tag else "target_tag")
    source = "pinned by ai_gateway_image_tag" if pinned_tag else "the target"
    if parts < wanted_parts:
        return _answer("upgrade", "it runs {0}, older than {1} ({2})".format(tag, wanted, source), tag, wanted)
    if parts == wanted_parts:
        return _answer("current", "it runs {0} already ({1})".format(tag, source), tag, wanted)
    return _answer("ahead", "it runs {0}, newer than {1} ({2}); a gateway is never downgraded silently. Fix: "
                   "upgrade GitLab to match it, or replace it deliberately (gateway_container with the older "
                   "image)".format(tag, wanted, source), tag, wanted)


def skew_state(current_image, instance, version, served=()):
    """How the gateway running ``current_image`` sits beside ``instance`` at ``version`` (a GitLabVersion, or None
    when its version is not known), among all instances it ``served`` ([(name, GitLabVersion)]). Releases are
    compared by major.minor, as a release is cut per GitLab minor (the patch number is the gateway's own).
    dict(state, why, gateway_tag); state one of ``SKEW_STATES`` except ``no_gateway``."""
    tag, parts, problem = running_release(current_image) if current_image else (None, None, None)
    if not current_image:
        return dict(state="not_installed", gateway_tag=None,
                    why="no gateway container on this host. Fix: run install.yml")
    if minors_differ([item for item in served if item[1] is not None]):
        return dict(state="skew", gateway_tag=tag, why="the gateway serves {0}, whose minor versions differ; the "
                    "upgrade leaves it alone. Fix: bring the instances to one minor or give each its own "
                    "gateway".format(_served([item for item in served if item[1] is not None])))
    if problem:
        return dict(state="unknown", gateway_tag=tag, why="cannot compare: " + problem)
    if version is None:
        return dict(state="unknown", gateway_tag=tag, why="the GitLab version of {0} is not known (it is not in the "
                    "gitlab group, or reading its version failed; see the play output)".format(instance))
    release, running = "GitLab {0}.{1}".format(*parts[:2]), (version.major, version.minor)
    if parts[:2] == running:
        return dict(state="matches", gateway_tag=tag, why="{0} is the release line of {1}".format(tag, release))
    if parts[:2] < running:
        return dict(state="lags", gateway_tag=tag, why="{0} is for {1}, the instance runs {2}. Fix: upgrade the gateway (upgrade.yml; install.yml also "
                    "runs the instance's release, with a short gap)"
                    .format(tag, release, format_version(version)))
    return dict(state="leads", gateway_tag=tag, why="{0} is for {1}, newer than the instance's {2}; it is not "
                "downgraded. Fix: upgrade GitLab, or replace the gateway deliberately".format(
                    tag, release, format_version(version)))


def gateways_needed(expected_users, request_seconds=DEFAULT_REQUEST_SECONDS,
                    requests_per_1000_users=REQUESTS_PER_SECOND_PER_1000_USERS,
                    concurrent_per_gateway=CONCURRENT_PER_GATEWAY):
    """How many 2 vCPU / 8 GB gateways GitLab's sizing figures call for ``expected_users`` active users.

    GitLab gives a rate and a capacity: about 7 requests/s per 1000 active users, and about 40 concurrent requests
    per gateway of 2 vCPU and 8 GB (DOMAIN.md section 5; the gateway install page's "Does the AI gateway need to
    autoscale?"). A rate becomes a number of requests in flight by Little's law: concurrent = requests/s x seconds
    each request is in flight. The docs give no mean request time, so ``request_seconds`` defaults to 60, GitLab's
    default ``ai_gateway_timeout_seconds`` (the longest a request may stream before GitLab gives up): an upper bound
    that keeps the pool large enough for long chat streams. Pass the instance's timeout, or a measured mean, to
    change it. With the defaults, 1000 users make 7 requests/s and at most 420 in flight: 11 gateways; 50 users
    make 21 in flight: one gateway, which agrees with the docs' "small: up to 50 users" tier.

    dict(users, requests_per_second, concurrent (rounded up), gateways (at least 1), request_seconds, basis).
    InputError naming ``ai_gateway_expected_users`` for a negative or non-integer number of users.
    """
    if isinstance(expected_users, bool) or not isinstance(expected_users, int) or expected_users < 0:
        raise InputError(EXPECTED_USERS_FIELD, expected_users, "is not a whole number of users (0 or more)",
                         "give the number of active (billable) Duo users the instance expects, e.g. 500")
    number_in_range("request_seconds", request_seconds, 1, 600)
    rate = Fraction(expected_users * requests_per_1000_users, 1000)
    in_flight = rate * Fraction(request_seconds)
    gateways = max(1, math.ceil(in_flight / concurrent_per_gateway))
    return dict(
        users=expected_users, requests_per_second=round(float(rate), 2), concurrent=math.ceil(in_flight),
        gateways=gateways, request_seconds=request_seconds,
        basis="{0} users x {1} requests/s per 1000 users = {2} requests/s; x {3} s in flight each (Little's law) = "
              "{4} concurrent requests; / {5} concurrent requests per 2 vCPU / 8 GB gateway = {6} gateway(s). "
              "Figures: GitLab's AI gateway sizing guidance.".format(
                  expected_users, requests_per_1000_users, round(float(rate), 2), request_seconds,
                  math.ceil(in_flight), concurrent_per_gateway, gateways))


def sizing_warning(sizing, pool_size):
    """A sentence when a pool of ``pool_size`` gateways is smaller than ``sizing`` calls for; else None."""
    if pool_size is None or pool_size >= sizing["gateways"]:
        return None
    text = ("{0} gateway(s) serve this instance, fewer than the {1} the documented figures call for {2} users "
            "({3} concurrent requests at about {4} per 2 vCPU / 8 GB gateway). Fix: add gateways to the pool, or use "
            "larger ones (8 vCPU / 32 GB handle about {5})")
    return text.format(pool_size, sizing["gateways"], sizing["users"], sizing["concurrent"], CONCURRENT_PER_GATEWAY,
                       4 * CONCURRENT_PER_GATEWAY)


def plan(params):
    """The gateway_upgrade_plan module's answer: the running container's image, decide()'s verdict (when a
    target or pinned tag is given) and, with ``expected_users``, the sizing. Reads only."""
    parsed_instances(params["instance_versions"])
    for field in ("target_tag", "pinned_tag"):
        if params[field]:
            release_parts(params[field], field)
    if params["pool_size"] is not None and (isinstance(params["pool_size"], bool) or params["pool_size"] < 1):
        raise InputError("pool_size", params["pool_size"], "is not a number of gateways",
                         "give how many gateways serve the instance (1 or more), or omit it")
    sizing = None
    if params["expected_users"] is not None:
        sizing = gateways_needed(params["expected_users"], params["request_seconds"])
        warning = sizing_warning(sizing, params["pool_size"])
        sizing = dict(sizing, pool_size=params["pool_size"], **({"warning": warning} if warning else {}))
    container = find(docker_client(params["docker_host"]), params["name"])
    current_image = container.attrs["Config"]["Image"] if container is not None else None
    if params["target_tag"] or params["pinned_tag"]:
        decision = decide(current_image, params["target_tag"], params["instance_versions"], params["pinned_tag"])
    else:
        decision = standing(current_image, params["instance_versions"]) or dict(
            action=None, why="no target_tag or pinned_tag was given: the running image was read, nothing compared",
            current_tag=running_release(current_image)[0], target_tag=None)
    result = dict(decision, changed=False, current_image=current_image, container_exists=container is not None)
    if sizing is not None:
        result["sizing"] = sizing
    return result
