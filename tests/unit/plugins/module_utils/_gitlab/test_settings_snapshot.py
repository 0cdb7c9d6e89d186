"""The settings snapshot on the control node: one file per instance, 0600 in a 0700 directory, replaced as a whole and
only when something differs; a file that is not a snapshot fails naming it."""

import json
import os
import stat

import pytest

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError, InputError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab import settings_snapshot
from ansible_collections.gitlab_duo.self_hosted.tests.unit.helpers import module_params

SETTINGS = {"ai_gateway_url": "https://aigw.example.com", "ai_gateway_timeout_seconds": 300,
            "duo_agent_platform_service_url": "aigw.example.com:50052"}


def params(folder, **given):
    return module_params("gitlab_settings_snapshot", snapshot_dir=str(folder), instance="prod/eu", **given)


def test_record_read_and_rerun(tmp_path):
    folder = tmp_path / "settings"
    assert settings_snapshot.run(params(folder), False) == dict(
        changed=False, path=str(folder / (settings_snapshot.file_stem("prod/eu") + ".json")), snapshot=None)
    assert settings_snapshot.file_stem("prod/eu").startswith("prod_eu-")
    checked = settings_snapshot.run(params(folder, state="present", settings=SETTINGS, gitlab_version="18.10.0-ee"),
                                    True)
    assert checked["changed"] and not folder.exists()
    recorded = settings_snapshot.run(params(folder, state="present", settings=SETTINGS,
                                            gitlab_version="v18.10.0-ee"), False)
    path = recorded["path"]
    assert recorded["changed"] and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(folder)).st_mode) == 0o700
    assert recorded["diff"] == {"before": {}, "after": {"gitlab_version": "18.10.0", "settings": SETTINGS}}
    read = settings_snapshot.run(params(folder), False)["snapshot"]
    assert read["settings"] == SETTINGS and read["gitlab_version"] == "18.10.0" and read["source"] == path
    assert read["instance"] == "prod/eu" and read["recorded_at"].endswith("+00:00")
    again = settings_snapshot.run(params(folder, state="present", settings=SETTINGS, gitlab_version="18.10.0"), False)
    assert not again["changed"] and again["snapshot"]["recorded_at"] == read["recorded_at"]
    moved = settings_snapshot.run(params(folder, state="present", settings=SETTINGS, gitlab_version="19.2.0"), False)
    assert moved["changed"] and moved["diff"]["before"]["gitlab_version"] == "18.10.0"
    assert os.listdir(str(folder)) == [os.path.basename(path)], "no temporary file left"


@pytest.mark.parametrize("content, words", [
    ("{not json", "cannot be read as JSON"), ('{"format": 2, "settings": {}, "gitlab_version": "18.1.0"}', "format 1"),
    ('["a list"]', "format 1")])
def test_a_file_that_is_not_a_snapshot_names_the_file_and_the_fix(tmp_path, content, words):
    path = settings_snapshot.path_for(str(tmp_path), "gitlab")
    with open(path, "w") as handle:
        handle.write(content)
    with pytest.raises(DuoError) as info:
        settings_snapshot.read(path)
    assert path in info.value.msg and words in info.value.msg and "Fix: delete it" in info.value.msg


def test_a_symlink_is_refused_and_never_written_through(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"format": 1, "settings": {}, "gitlab_version": "18.1.0"}))
    os.symlink(str(target), settings_snapshot.path_for(str(tmp_path), "gitlab"))
    with pytest.raises(DuoError) as info:
        settings_snapshot.record(str(tmp_path), "gitlab", "18.1.0", SETTINGS)
    assert "not a regular file" in info.value.msg
    assert json.loads(target.read_text())["settings"] == {}


def test_bad_input_names_the_field(tmp_path):
    with pytest.raises(InputError) as info:
        settings_snapshot.record("relative/dir", "gitlab", "18.1.0", SETTINGS)
    assert info.value.details["field"] == "snapshot_dir"
    with pytest.raises(InputError) as info:
        settings_snapshot.record(str(tmp_path), "gitlab", "18.1.0", {"enabled_instance_verbose_ai_logs": True})
    assert info.value.details["field"] == "settings" and "enabled_instance_verbose_ai_logs" in info.value.msg
    with pytest.raises(InputError) as info:
        settings_snapshot.record(str(tmp_path), "gitlab", "latest", SETTINGS)
    assert info.value.details["field"] == "gitlab_version"
