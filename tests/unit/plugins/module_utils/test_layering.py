"""module_utils imports run one way: troubleshoot, bundle -> gateway -> {gitlab, tls} -> base floor (docker, http,
validation, redaction, lock, files) -> errors. A new import against that direction, or a cycle, fails here."""

import ast
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 4, "plugins", "module_utils"))
PREFIX = "ansible_collections.gitlab_duo.self_hosted.plugins.module_utils."
# What each room may import besides itself. The base floor may import _errors only.
ALLOWED = {
    "_errors": set(),
    "_validation": {"_errors"},
    "_redaction": set(),
    "_http": {"_errors"},
    "_docker": {"_errors"},
    "_lock": {"_errors"},
    "_files": set(),
    "_gitlab": {"_errors", "_validation", "_redaction", "_http", "_docker", "_lock", "_files"},
    "_tls": {"_errors", "_validation", "_redaction", "_http", "_docker", "_lock", "_files"},
    "_gateway": {"_errors", "_validation", "_redaction", "_http", "_docker", "_lock", "_files", "_gitlab", "_tls"},
    "_troubleshoot": {"_errors", "_validation", "_redaction", "_http", "_docker", "_lock", "_files", "_gitlab",
                      "_tls", "_gateway"},
    # The air-gap bundle builds on the gateway's tag policy and the base floor; nothing below imports it.
    "_bundle": {"_errors", "_validation", "_redaction", "_http", "_docker", "_lock", "_files", "_gitlab", "_tls",
                "_gateway"},
}


def sources():
    for folder, _dirs, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").replace(".__init__", ""), path


def imports(path):
    """Dotted names (relative to module_utils) of the collection's modules that ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PREFIX):
            base = node.module[len(PREFIX):]
            found.add(base)
            found.update(base + "." + alias.name for alias in node.names if base in ROOT_PACKAGES)
        elif isinstance(node, ast.ImportFrom) and node.module == PREFIX[:-1]:
            found.update(alias.name for alias in node.names)
    return found


ROOT_PACKAGES = {"_gitlab", "_gateway", "_tls", "_troubleshoot", "_bundle"}
GRAPH = {name: imports(path) for name, path in sources()}


def room(dotted):
    return dotted.split(".")[0]


def test_every_file_lives_in_a_known_room():
    assert set(room(name) for name in GRAPH) == set(ALLOWED)


def test_imports_run_one_way():
    wrong = sorted("{0} -> {1}".format(name, target) for name, targets in GRAPH.items() for target in targets
                   if room(target) != room(name) and room(target) not in ALLOWED[room(name)])
    assert not wrong, wrong


def test_no_cycles():
    state = {}

    def visit(name, trail):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", "import cycle: " + " -> ".join(trail + [name])
        state[name] = "open"
        for target in GRAPH.get(name, ()):
            if target in GRAPH:
                visit(target, trail + [name])
        state[name] = "done"

    for name in sorted(GRAPH):
        visit(name, [])


def test_each_package_says_what_it_owns():
    for package in ROOT_PACKAGES:
        docstring = ast.get_docstring(ast.parse(open(os.path.join(ROOT, package, "__init__.py")).read()))
        assert docstring and len(docstring.splitlines()) == 2, package
