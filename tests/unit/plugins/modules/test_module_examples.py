"""Every module's EXAMPLES use only options its DOCUMENTATION declares (ansible-test checks the documentation
against the argument spec, but not the examples a reader copies)."""

import json
import os
import subprocess
import sys

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 4))
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "modules")) if name.endswith(".py"))


def test_examples_use_declared_options():
    completed = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "--json"]
        + ["gitlab_duo.self_hosted." + name for name in MODULES],
        capture_output=True, text=True, check=False, cwd=REPO,
        env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    assert completed.returncode == 0, completed.stderr
    documented = json.loads(completed.stdout)
    assert len(documented) == len(MODULES)
    unknown = []
    for module, entry in documented.items():
        options = entry["doc"].get("options") or {}
        tasks = yaml.safe_load(entry["examples"])
        assert tasks, module + " has no examples"
        for task in tasks:
            arguments = task.get(module)
            assert isinstance(arguments, (dict, type(None))), (module, task["name"])
            for option, value in (arguments or {}).items():
                if option not in options:
                    unknown.append((module, task["name"], option))
                elif isinstance(value, dict) and options[option].get("suboptions"):
                    unknown.extend((module, task["name"], option + "." + key) for key in value
                                   if key not in options[option]["suboptions"])
    assert unknown == []
