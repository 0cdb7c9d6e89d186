# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Python wheels for the air-gap bundle (private to gitlab_duo.self_hosted): ``pip download`` of a requirement set
for another machine's Python version and platform (the bundle_wheels service).

Only wheels (``--only-binary=:all:``): what is carried in installs with no compiler and no index. pip resolves into
a temporary directory each run (pip's own cache keeps unchanged files off the network); the bundle's folder is then
brought to exactly that set - a wheel with the same name and bytes stays untouched, new ones are copied in, those no
longer wanted are removed - and ``requirements/<name>.txt`` pins every requested project to the version in the folder.
"""

from __future__ import annotations

import hashlib
import os
import platform as host_platform
import re
import shutil
import subprocess
import sys
import tempfile

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle.manifest import sha256_file
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError

NAMES = ("control", "targets")
_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(\w+)$")
_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_LEGACY_PLATFORM = re.compile(r"^(manylinux1|manylinux2010|manylinux2014)_(\w+)$")
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?$")
_PYTHON = re.compile(r"^3\.\d+$")


def normalise(project):
    """PEP 503 project name: 'Foo_Bar.baz' -> 'foo-bar-baz' (wheel file names and requirements agree on it)."""
    return re.sub(r"[-_.]+", "-", project).lower()


def wheel_project(file_name):
    """(normalised project, version) of a wheel file name."""
    parts = file_name[:-len(".whl")].split("-")
    return normalise(parts[0]), parts[1]


def default_python():
    """This interpreter's version, X.Y."""
    return "{0}.{1}".format(*sys.version_info[:2])


def default_platform():
    """This machine's newest manylinux tag (manylinux_<glibc major>_<minor>_<arch>), as pip would accept here."""
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        libc = ""
    match = re.match(r"^glibc (\d+)\.(\d+)", libc)
    if not match:
        raise InputError("platforms", None, "cannot be worked out here (no glibc)",
                         "give the platform tag of the machines the wheels are for, e.g. manylinux_2_36_x86_64")
    return "manylinux_{0}_{1}_{2}".format(match.group(1), match.group(2), host_platform.machine())


def expand_platform(tag):
    """Every platform tag a machine with ``tag`` installs, newest first: manylinux_2_36_x86_64 also takes
    manylinux_2_35 .. manylinux_2_5 and the legacy manylinux2014/2010/1 names (pip, given one --platform, takes that
    tag only). Any other tag (macOS, musllinux, linux_x86_64) is taken as is."""
    legacy = _LEGACY_PLATFORM.match(tag)
    if legacy:
        major, minor = _LEGACY[legacy.group(1)]
        tag = "manylinux_{0}_{1}_{2}".format(major, minor, legacy.group(2))
    match = _MANYLINUX.match(tag)
    if not match:
        return [tag]
    major, newest, arch = int(match.group(1)), int(match.group(2)), match.group(3)
    tags = []
    for minor in range(newest, 4, -1) if major == 2 else [newest]:
        tags.append("manylinux_{0}_{1}_{2}".format(major, minor, arch))
        tags.extend("{0}_{1}".format(name, arch) for name, version in sorted(_LEGACY.items())
                    if major == 2 and version == (major, minor))
    return tags


def requirement_lines(requirements, field="requirements"):
    """The requirement specifiers, checked: one project each, no pip options (nothing may point pip elsewhere)."""
    lines = []
    for requirement in requirements:
        text = (requirement or "").strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("-") or "\n" in text or not _REQUIREMENT.match(text):
            raise InputError(field, requirement, "is not a requirement specifier", "give a project and optionally a "
                             "version, e.g. docker or docker==7.2.0 (pip options are not taken)")
        lines.append(text)
    return lines


def read_requirements(path, field):
    """The requirement lines of a requirements file (comments and blank lines skipped)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return requirement_lines(handle.read().splitlines(), field)
    except OSError as exc:
        raise InputError(field, path, "cannot be read ({0})".format(exc.strerror), "give a requirements file")


def pinned(lines, files):
    """The requirement lines pinned to the one version of each project the wheels hold (``name[extras]==X``);
    a line whose project the folder holds in several versions (several Python versions) or not at all stays as is."""
    versions = {}
    for name in files:
        project, version = wheel_project(name)
        versions.setdefault(project, set()).add(version)
    result = []
    for line in lines:
        match = _REQUIREMENT.match(line)
        found = versions.get(normalise(match.group(1)), set())
        if len(found) == 1:
            line = "{0}{1}=={2}{3}".format(match.group(1), match.group(2) or "", next(iter(found)),
                                           (" " + match.group(4)) if match.group(4) else "")
        result.append(line)
    return result


def pip_argv(pip, requirements_file, dest, python_version, platforms, implementation, constraints_file=None):
    argv = list(pip) + ["download", "--only-binary=:all:", "--disable-pip-version-check", "--no-input",
                        "--progress-bar", "off", "--dest", dest, "--python-version", python_version,
                        "--implementation", implementation]
    for tag in platforms:
        argv += ["--platform", tag]
    if constraints_file:
        argv += ["--constraint", constraints_file]
    return argv + ["--requirement", requirements_file]


def _download(argv, runner):
    try:
        completed = runner(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           check=False, timeout=1800)
    except OSError as exc:
        raise DuoError("pip could not be started ({0}: {1}). Fix: install pip for this Python (python3-pip) or "
                       "give pip_command.".format(argv[0], exc.strerror))
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        raise DuoError("pip download failed: {0}. Fix: check the requirement names and versions, the Python "
                       "version and platforms (a project without a wheel for them cannot be bundled) and that the "
                       "package index answers.".format(" / ".join(lines[-3:]) or "exit {0}".format(
                           completed.returncode)))


def _hashes(folder):
    if not os.path.isdir(folder):
        return {}
    return {name: sha256_file(os.path.join(folder, name)) for name in sorted(os.listdir(folder))
            if name.endswith(".whl") and os.path.isfile(os.path.join(folder, name))}


def _copy_in(source, destination):
    """Copy beside, then rename: a kill never leaves half a wheel under its final name."""
    partial = destination + ".partial"
    shutil.copyfile(source, partial)
    os.replace(partial, destination)


def _read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _write_text(path, text):
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def ensure_wheels(params, check_mode, runner=subprocess.run):
    """The bundle_wheels module's answer: ``wheels/<name>/`` holding exactly the wheels pip resolves for the
    requirements, Python versions and platforms, and ``requirements/<name>.txt``."""
    name, bundle = params["wheel_set"], params["bundle_dir"]
    lines = requirement_lines(params["requirements"] or [])
    if params["requirements_file"]:
        lines += read_requirements(params["requirements_file"], "requirements_file")
    if not lines:
        raise InputError("requirements", params["requirements"], "names no project",
                         "give requirements or requirements_file (or leave this wheel set out)")
    pythons = params["python_versions"] or [default_python()]
    for version in pythons:
        if not _PYTHON.match(version):
            raise InputError("python_versions", version, "is not a Python 3 version X.Y", "give e.g. 3.11")
    asked = params["platforms"] or [default_platform()]
    platforms = []
    for tag in asked:
        platforms.extend(tag for tag in expand_platform(tag) if tag not in platforms)
    pip = params["pip_command"] or [sys.executable, "-m", "pip"]
    folder = "wheels/" + name
    requirements_path = "requirements/{0}.txt".format(name)
    scratch = tempfile.mkdtemp(prefix="duo-bundle-wheels-")
    try:
        wanted_file = os.path.join(scratch, "requirements.txt")
        _write_text(wanted_file, "\n".join(lines) + "\n")
        downloads = os.path.join(scratch, "wheels")
        for version in pythons:
            _download(pip_argv(pip, wanted_file, downloads, version, platforms, params["implementation"],
                               params["constraints_file"]), runner)
        new, old = _hashes(downloads), _hashes(os.path.join(bundle, folder))
        added = sorted(wheel for wheel, digest in new.items() if old.get(wheel) != digest)
        removed = sorted(set(old) - set(new))
        text = "\n".join(pinned(lines, new)) + "\n"
        target_text = os.path.join(bundle, requirements_path)
        text_changed = _read_text(target_text) != text
        if not check_mode:
            # New wheels first, then the pins, then the removals: a kill at any point leaves whole files, and the
            # next run (or verify, which names what the manifest does not list) finishes the job.
            os.makedirs(os.path.join(bundle, folder), exist_ok=True)
            os.makedirs(os.path.join(bundle, "requirements"), exist_ok=True)
            for wheel in added:
                _copy_in(os.path.join(downloads, wheel), os.path.join(bundle, folder, wheel))
            if text_changed:
                _write_text(target_text, text)
            for wheel in removed:
                os.remove(os.path.join(bundle, folder, wheel))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    files = {"{0}/{1}".format(folder, wheel): dict(sha256=digest, size=size) for wheel, (digest, size) in new.items()}
    encoded = text.encode("utf-8")
    files[requirements_path] = dict(sha256=hashlib.sha256(encoded).hexdigest(), size=len(encoded))
    wheels = dict(python_versions=pythons, platforms=asked, implementation=params["implementation"],
                  directory=folder, requirements=requirements_path, packages=sorted(new), files=files)
    return dict(changed=bool(added or removed or text_changed), wheels=wheels, added=added, removed=removed,
                requirements_text=text,
                diff=dict(before="".join(wheel + "\n" for wheel in sorted(old)),
                          after="".join(wheel + "\n" for wheel in sorted(new)),
                          before_header=folder, after_header=folder))
