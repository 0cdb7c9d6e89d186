"""Roles: one owner per value. Each role's options are declared once in meta/argument_specs.yml, matching
defaults/main.yml, with internal values in vars/main.yml and out of the specs; and a role reads another role's
values only through the facts that role publishes, never by restating its defaults with ``| default(...)``."""

import os
import re

import pytest
import yaml

ROLES_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 3, "roles"))
ROLES = sorted(os.listdir(ROLES_DIR))

# What each role publishes for the others (set_fact with a documented name), and the inventory's own contract
# (variables a user sets on a host, read as such, never given a default by another role).
PUBLISHED = {
    "ai_gateway": {"ai_gateway_plan", "ai_gateway_effective_url", "ai_gateway_installed_tag",
                   "ai_gateway_installed_image", "ai_gateway_container_recreated", "ai_gateway_upgrade_plan",
                   "ai_gateway_run"},
    "tls_proxy": {"tls_proxy_frontend", "tls_proxy_pool", "tls_proxy_topology", "tls_proxy_installed"},
    "gitlab_settings": {"gitlab_settings_expected_url", "gitlab_settings_detected_version"},
}
# Secrets the troubleshoot report must redact wherever the inventory holds them (model keys, the ACME EAB key).
INVENTORY_CONTRACT = {"ai_gateway_gitlab_instance", "ai_gateway_secret_env", "tls_proxy_acme_eab_hmac_key",
                      "ai_gateway_registry_username", "ai_gateway_registry_password"}
# Parameters a role passes to an entry point of another role it includes (documented in that entry point's spec).
ENTRY_POINT_PARAMETERS = {"ai_gateway_run_with_auth_bypass", "ai_gateway_lease", "ai_gateway_lease_host",
                          "ai_gateway_lease_playbook", "ai_gateway_image_override"}
# Inventory groups are looked up by name (groups['ai_gateway_proxy']): a name, not another role's variable.
GROUP_LOOKUP = re.compile(r"groups\[['\"]\w+['\"]\]")


def load(role, *path):
    full = os.path.join(ROLES_DIR, role, *path)
    if not os.path.exists(full):
        return {}
    with open(full) as handle:
        return yaml.safe_load(handle) or {}


def options(role):
    found = {}
    for entry_point, spec in load(role, "meta", "argument_specs.yml")["argument_specs"].items():
        for name, option in (spec.get("options") or {}).items():
            found.setdefault(name, []).append((entry_point, option))
    return found


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_a_declared_option_and_every_option_has_a_default(role):
    declared, defaults = options(role), load(role, "defaults", "main.yml")
    assert sorted(set(defaults) - set(declared)) == [], "defaults that no argument spec declares"
    assert sorted(set(declared) - set(defaults)) == [], "options without a default in defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_declared_defaults_match_defaults_main(role):
    defaults = load(role, "defaults", "main.yml")
    wrong = ["{0} ({1}): spec {2!r}, defaults {3!r}".format(name, entry_point, option["default"], defaults.get(name))
             for name, declared in options(role).items() for entry_point, option in declared
             if "default" in option and option["default"] != defaults.get(name)]
    assert not wrong


@pytest.mark.parametrize("role", ROLES)
def test_internal_values_are_not_options(role):
    internal = load(role, "vars", "main.yml")
    assert sorted(set(internal) & set(options(role))) == []
    assert sorted(set(internal) & set(load(role, "defaults", "main.yml"))) == []


def expressions(text):
    """The Jinja expressions of a role file: {{ ... }} blocks and the bare expressions of when/that/loop/until."""
    found = re.findall(r"\{\{(.*?)\}\}", text, re.S) + re.findall(r"\{%(.*?)%\}", text, re.S)
    for match in re.finditer(r"^\s*(?:- )?(?:when|that|until|changed_when|failed_when):\s*(.*)$", text, re.M):
        value = match.group(1).strip()
        if value and not value.startswith(("{{", ">", "|", '"{{')):
            found.append(value)
    for match in re.finditer(r"^\s*(?:when|that):\s*\n((?:\s*- .*\n)+)", text, re.M):
        found.extend(line.strip()[2:] for line in match.group(1).splitlines())
    return found


def role_files(role):
    for folder, _dirs, files in os.walk(os.path.join(ROLES_DIR, role)):
        for name in files:
            if name.endswith((".yml", ".j2")) and os.path.basename(folder) != "meta":
                yield os.path.join(folder, name)


PREFIXES = {role: role + "_" for role in ROLES}


@pytest.mark.parametrize("role", ROLES)
def test_other_roles_are_read_only_through_published_facts(role):
    others = {other: prefix for other, prefix in PREFIXES.items() if other != role}
    # a name, or an attribute of hostvars[...], but not a result's attribute (x.name) nor a filter call (name(...))
    pattern = re.compile(r"(?<!\w)(?<![^\]]\.)({0})\w*(?![\w(])".format("|".join(others.values())))
    wrong = set()
    for path in role_files(role):
        with open(path) as handle:
            text = handle.read()
        for expression in expressions(GROUP_LOOKUP.sub("groups[...]", text)):
            for match in pattern.finditer(expression):
                name = match.group(0)
                owner = next(other for other, prefix in others.items() if name.startswith(prefix))
                if name not in PUBLISHED.get(owner, set()) | INVENTORY_CONTRACT | ENTRY_POINT_PARAMETERS:
                    wrong.add("{0}: {1}".format(os.path.relpath(path, ROLES_DIR), name))
    assert sorted(wrong) == []


@pytest.mark.parametrize("role", ROLES)
def test_no_role_restates_another_roles_defaults(role):
    others = "|".join(prefix for other, prefix in PREFIXES.items() if other != role)
    pattern = re.compile(r"(?<![\w.])(?:{0})[\w.\[\]']*\s*\|\s*default\(".format(others))
    wrong = []
    for path in role_files(role):
        with open(path) as handle:
            wrong.extend("{0}: {1}".format(os.path.relpath(path, ROLES_DIR), match.group(0))
                         for match in pattern.finditer(GROUP_LOOKUP.sub("groups[...]", handle.read())))
    assert wrong == []
