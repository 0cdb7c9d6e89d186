import os
import stat

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.jwt_keys import (
    JWT_KEY_VARIABLES, load_or_create)


def test_generated_once_kept_private_and_stable(tmp_path):
    directory = str(tmp_path / "keys")
    keys, created = load_or_create(directory)
    assert sorted(created) == sorted(JWT_KEY_VARIABLES) and set(keys) == set(JWT_KEY_VARIABLES)
    for pem in keys.values():
        assert load_pem_private_key(pem.encode(), None).key_size == 2048
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for name in JWT_KEY_VARIABLES.values():
        assert stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode) == 0o600
    again, created_again = load_or_create(directory)
    assert again == keys and created_again == []


def test_check_mode_writes_nothing(tmp_path):
    directory = str(tmp_path / "keys")
    keys, created = load_or_create(directory, check_mode=True)
    assert len(created) == 4 and not os.path.exists(directory)


def test_given_keys_win_and_persist(tmp_path):
    directory = str(tmp_path / "keys")
    load_or_create(directory)
    given = {"AIGW_SELF_SIGNED_JWT__SIGNING_KEY": "-----BEGIN PRIVATE KEY-----\ngiven\n"}
    keys, _created = load_or_create(directory, given)
    assert keys["AIGW_SELF_SIGNED_JWT__SIGNING_KEY"] == given["AIGW_SELF_SIGNED_JWT__SIGNING_KEY"]
    assert load_or_create(directory)[0]["AIGW_SELF_SIGNED_JWT__SIGNING_KEY"] == given["AIGW_SELF_SIGNED_JWT__SIGNING_KEY"]
    with pytest.raises(DuoError):
        load_or_create(directory, {"NOT_A_KEY": "x"})


def test_a_stale_staging_file_does_not_leak_its_mode(tmp_path):
    # A run cut off mid-write may leave <key>.new behind, world-readable; the key must still end up 0600.
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o700)
    stale = directory / (sorted(JWT_KEY_VARIABLES.values())[0] + ".new")
    stale.write_text("half a key")
    stale.chmod(0o644)
    load_or_create(str(directory))
    for filename in JWT_KEY_VARIABLES.values():
        assert stat.S_IMODE(os.stat(directory / filename).st_mode) == 0o600, filename
    assert not stale.exists()
