"""An option name means one thing across the collection: every module that takes it declares it alike (the shared
constants in module_utils), so a fix to one declaration cannot leave another behind."""

import importlib
import json
import os

import pytest

MODULES_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 4, "plugins", "modules"))
MODULES = sorted(name[:-3] for name in os.listdir(MODULES_DIR) if name.endswith(".py") and name != "__init__.py")
# Per-module by Ansible convention: each module's states are the ones its object has.
PER_MODULE = {"state"}
# How a module phases out an old name (a deprecated alias), and whether the option is mandatory there, are the
# module's own.
MODULE_OWN_KEYS = {"required", "aliases", "deprecated_aliases"}


class Captured(Exception):
    pass


def argument_spec(name):
    """The argument_spec the module's main() builds, captured before anything runs."""
    module = importlib.import_module("ansible_collections.gitlab_duo.self_hosted.plugins.modules." + name)
    seen = {}

    def capture(**kwargs):
        seen.update(kwargs)
        raise Captured()

    real = module.AnsibleModule
    module.AnsibleModule = capture
    try:
        module.main()
    except Captured:
        pass
    finally:
        module.AnsibleModule = real
    return seen["argument_spec"]


def declarations():
    by_name = {}
    for module in MODULES:
        for option, spec in argument_spec(module).items():
            shared = {key: value for key, value in spec.items() if key not in MODULE_OWN_KEYS}
            by_name.setdefault(option, []).append((module, json.dumps(shared, sort_keys=True, default=str)))
    return by_name


def test_every_module_is_seen():
    assert len(MODULES) >= 13 and all(argument_spec(module) for module in MODULES)


@pytest.mark.parametrize("option, declared", sorted(
    (option, declared) for option, declared in declarations().items() if len(declared) > 1 and option not in PER_MODULE))
def test_shared_option_declared_alike(option, declared):
    found = variants(declared)
    assert len(found) == 1, "option {0!r} is declared differently: {1}".format(option, found)


def variants(declared):
    """{declaration: [modules]} of one option name."""
    found = {}
    for module, spec in declared:
        found.setdefault(spec, []).append(module)
    return found


def test_the_check_catches_a_drift():
    """A module that declared timeout with its own default would make two variants, which the test refuses."""
    declared = declarations()["timeout"] + [("drifted_module", json.dumps({"type": "int", "default": 5}))]
    found = variants(declared)
    assert len(found) == 2 and ["drifted_module"] in found.values()
