# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an instance's AI settings were, remembered on the control node between runs (private to
gitlab_duo.self_hosted).

GitLab 19.2 moves the AI settings to the application settings and copies nothing (its migration
AddAiInfrastructureColumnsToApplicationSettings adds the columns with their defaults): an upgraded instance has lost
its gateway URL, its Agent Platform URL and its timeout, including values an operator set by hand. Each run of the
gitlab_settings role records what it read in one file per instance (JSON, mode 0600, directory 0700, replaced as a
whole); the next run's gitlab_ai_settings sets again a remembered value that is unset now (ai_settings.remembered_for
says which)."""

from __future__ import annotations

import datetime
import json
import os
import stat

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._files import file_stem, replace_private
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.ai_settings import REMEMBERED
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import (
    format_version, parse_gitlab_version)

FORMAT = 1


def path_for(snapshot_dir, instance):
    """``<snapshot_dir>/<instance>.json``; a name with other characters than letters, digits, ``_ . -`` gets them
    replaced and a hash appended (_files.file_stem), so two instances never share a file."""
    if not snapshot_dir or not os.path.isabs(snapshot_dir):
        raise InputError("snapshot_dir", snapshot_dir, "is not an absolute path",
                         "give a directory on the control node, e.g. /var/lib/duo/settings")
    if not instance:
        raise InputError("instance", instance, "is empty", "give the instance's inventory name")
    return os.path.join(snapshot_dir, file_stem(instance) + ".json")


def _broken(path, problem):
    return DuoError("The settings snapshot {0} {1}. Fix: delete it (the next run records the instance's settings "
                    "again; values a GitLab upgrade cleared before then are not set back).".format(path, problem),
                    path=path)


def read(path):
    """The snapshot at ``path`` (dict with ``source``: the path), or None when there is none. A symlink or a file
    that is not a snapshot fails, naming the file."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise _broken(path, "is not a regular file (a symlink or a directory)")
    try:
        with open(path) as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        raise _broken(path, "cannot be read as JSON ({0})".format(exc))
    if not isinstance(document, dict) or document.get("format") != FORMAT or \
            not isinstance(document.get("settings"), dict) or not document.get("gitlab_version"):
        raise _broken(path, "is not a settings snapshot of format {0}".format(FORMAT))
    document["source"] = path
    return document


def record(snapshot_dir, instance, gitlab_version, settings, check_mode=False):
    """Remember ``settings`` (the instance's values now, as gitlab_ai_settings returned them) at ``gitlab_version``.
    Written only when they or the version differ from the snapshot on file, so a rerun changes nothing."""
    path = path_for(snapshot_dir, instance)
    version = format_version(parse_gitlab_version(gitlab_version))
    unknown = sorted(set(settings or {}) - set(REMEMBERED))
    if unknown:
        raise InputError("settings", unknown, "are not settings a snapshot remembers",
                         "give only {0}".format(", ".join(REMEMBERED)))
    kept = {key: (settings or {})[key] for key in REMEMBERED if key in (settings or {})}
    previous = read(path)
    if previous is not None and previous.get("gitlab_version") == version and previous["settings"] == kept:
        return dict(changed=False, path=path, snapshot=previous)
    document = {"format": FORMAT, "instance": instance, "gitlab_version": version, "settings": kept,
                "recorded_at": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()}
    if not check_mode:
        os.makedirs(snapshot_dir, mode=0o700, exist_ok=True)
        replace_private(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    before = {key: value for key, value in (previous or {}).items() if key in ("gitlab_version", "settings")}
    return dict(changed=True, path=path, snapshot=dict(document, source=path),
                diff={"before": before, "after": {"gitlab_version": version, "settings": kept}})


def run(params, check_mode):
    """The gitlab_settings_snapshot module's answer: read the snapshot (state=read), or record one (present)."""
    if params["state"] == "read":
        path = path_for(params["snapshot_dir"], params["instance"])
        return dict(changed=False, path=path, snapshot=read(path))
    if params["gitlab_version"] is None:
        raise InputError("gitlab_version", None, "is required with state=present",
                         "give the version the settings were read at")
    return record(params["snapshot_dir"], params["instance"], params["gitlab_version"], params["settings"],
                  check_mode)
