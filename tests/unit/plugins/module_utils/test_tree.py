"""tests/unit mirrors plugins/module_utils: the tests of ``_pkg/name.py`` are in ``_pkg/test_name.py`` (``_name.py`` on
the base floor: ``test_name.py``). A new source file comes with its test file; a test file names a source file."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = os.path.abspath(os.path.join(HERE, *[os.pardir] * 4, "plugins", "module_utils"))
# Tests of the tree as a whole, not of one file.
WHOLE_TREE = {"test_layering.py", "test_tree.py"}


def files(root, wanted):
    found = set()
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if wanted(name):
                found.add(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return found


def mirror(source):
    folder, name = os.path.split(source)
    return os.path.join(folder, "test_" + name.lstrip("_")).replace(os.sep, "/")


def test_every_source_file_has_its_test_file():
    sources = files(SOURCES, lambda name: name.endswith(".py") and name != "__init__.py")
    tests = files(HERE, lambda name: name.startswith("test_") and name.endswith(".py"))
    missing = sorted(source for source in sources if mirror(source) not in tests)
    assert not missing, "no test file for: {0}".format(missing)


def test_every_test_file_names_a_source_file():
    sources = files(SOURCES, lambda name: name.endswith(".py"))
    tests = files(HERE, lambda name: name.startswith("test_") and name.endswith(".py"))
    orphans = sorted(test for test in tests if os.path.basename(test) not in WHOLE_TREE and not any(
        mirror(source) == test for source in sources))
    assert not orphans, "test files that mirror no source file: {0}".format(orphans)


def test_every_test_folder_is_a_package_with_an_empty_init():
    for folder, _dirs, names in os.walk(HERE):
        if "__pycache__" in folder:
            continue
        init = os.path.join(folder, "__init__.py")
        assert "__init__.py" in names and os.path.getsize(init) == 0, folder
