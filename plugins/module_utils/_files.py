# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report files on the control node (private to gitlab_duo.self_hosted): written 0600 from the first byte, never
through a symlink, under a file name derived from a user's name without two names meeting in one file."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def private_file(path):
    """``path`` opened for writing with mode 0600 from the first byte (never through a symlink); an existing
    file is truncated and set back to 0600."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "wb")


def write_private(path, text):
    with private_file(path) as handle:
        handle.write(text.encode("utf-8"))


def replace_private(path, text):
    """``path`` replaced as a whole by ``text`` (mode 0600 from the first byte): written to a new file beside it,
    then renamed over it, so a run killed half-way leaves the old file or the new one, never a torn one. A symlink at
    ``path`` is replaced, never followed."""
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def file_stem(name, reserved=()):
    """A file name for ``name``: itself when it is made of letters, digits, ``_``, ``.`` and ``-`` only (and is not
    ``.``, ``..``, hidden or one of the ``reserved`` stems the caller writes itself, compared case-insensitively);
    else the safe characters with ``_`` for the others plus the first 8 hex digits of the name's SHA-256, so
    ``prod/eu`` and ``prod_eu`` never share a file, nor an instance called ``fleet`` the fleet summary."""
    text = str(name)
    if (text and not _UNSAFE.search(text) and not text.startswith(".")
            and text.lower() not in {stem.lower() for stem in reserved}):
        return text
    cleaned = _UNSAFE.sub("_", text).lstrip(".") or "report"
    return "{0}-{1}".format(cleaned[:80], hashlib.sha256(text.encode("utf-8")).hexdigest()[:8])
