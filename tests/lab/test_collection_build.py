"""The built collection tarball installs into a fresh collections path and its modules run and document."""

import json
import os
import subprocess
import tarfile

from .conftest import REPO, VENV_BIN

MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "modules")) if name.endswith(".py"))
ROLES = sorted(os.listdir(os.path.join(REPO, "roles")))


def run(command, cwd, env):
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False)


def test_tarball_installs_and_runs(tmp_path):
    env = dict(os.environ, ANSIBLE_CONFIG=str(tmp_path / "none.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV_BIN, "python"))
    built = run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), REPO],
                tmp_path, env)
    assert built.returncode == 0, built.stderr
    tarball = str(tmp_path / "gitlab_duo-self_hosted-0.1.0.tar.gz")
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "plugins/modules/gateway_container.py" in names and "roles/ai_gateway/tasks/main.yml" in names
    assert not [name for name in names if name.startswith((".lab", ".venv", "tests/", "lab/", ".git/"))]

    installed = run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "--offline", tarball,
                     "-p", str(tmp_path / "collections")], tmp_path, env)
    assert installed.returncode == 0, installed.stderr
    assert os.path.isdir(tmp_path / "collections" / "ansible_collections" / "gitlab_duo" / "self_hosted" / "roles")

    tags = ["self-hosted-v18.2.9-ee", "self-hosted-v18.2.10-ee", "nightly"]
    ran = run([os.path.join(VENV_BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m",
               "gitlab_duo.self_hosted.gateway_release", "-a", json.dumps({"gitlab_version": "18.2.1-ee", "tags": tags}),
               "-o"], tmp_path, env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert '"tag": "self-hosted-v18.2.10-ee"' in ran.stdout

    for module in MODULES:
        doc = run([os.path.join(VENV_BIN, "ansible-doc"), "--json", "gitlab_duo.self_hosted." + module], tmp_path, env)
        assert doc.returncode == 0, doc.stderr
        parsed = json.loads(doc.stdout)["gitlab_duo.self_hosted." + module]
        assert parsed["doc"]["options"] and parsed["examples"] and parsed["return"], module
    assert len(MODULES) >= 13 and len(ROLES) >= 6
    for role in ROLES:
        doc = run([os.path.join(VENV_BIN, "ansible-doc"), "-t", "role", "gitlab_duo.self_hosted." + role],
                  tmp_path, env)
        assert doc.returncode == 0, doc.stderr
