"""Names that explain themselves: a module's name says what it acts on and puts it in that action group; nothing
outside tests/ looks like a test to pytest; renamed modules keep working through a redirect."""

import fnmatch
import os
import subprocess

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 4))
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "modules"))
                 if name.endswith(".py") and name != "__init__.py")
RUNTIME = yaml.safe_load(open(os.path.join(REPO, "meta", "runtime.yml")))
# What a module acts on, by the first word of its name, and the action group that gathers them.
GROUP_OF_PREFIX = {"gateway": "gateway", "gitlab": "gitlab", "tls": "tls", "nginx": "tls", "troubleshoot": "troubleshoot",
                   "fleet": "fleet", "bundle": "bundle"}


def test_every_module_name_says_what_it_acts_on_and_is_in_that_group():
    for module in MODULES:
        group = GROUP_OF_PREFIX.get(module.split("_")[0])
        assert group, "{0}: name it after what it acts on ({1}_...)".format(module, "|".join(GROUP_OF_PREFIX))
        assert module in RUNTIME["action_groups"][group], "{0} is missing from action group {1}".format(module, group)


def test_action_groups_name_only_modules_that_exist():
    for group, members in RUNTIME["action_groups"].items():
        assert sorted(set(members) - set(MODULES)) == [], group


def test_renamed_modules_redirect_to_modules_that_exist():
    for old, route in RUNTIME["plugin_routing"]["modules"].items():
        assert old not in MODULES and route["redirect"].rsplit(".", 1)[1] in MODULES, old
        assert route["deprecation"]["removal_version"], old


def test_nothing_outside_tests_is_collected_by_pytest():
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    lookalikes = [path for path in tracked if not path.startswith("tests/") and path.endswith(".py")
                  and (fnmatch.fnmatch(os.path.basename(path), "test_*.py")
                       or fnmatch.fnmatch(os.path.basename(path), "*_test.py"))]
    assert lookalikes == []
