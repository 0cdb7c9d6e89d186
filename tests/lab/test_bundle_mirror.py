"""The internal registry mirror, on loopback: playbooks/bundle_mirror.yml pushes a bundle's images with real skopeo
into a real registry (Debian's docker-registry) that serves TLS with a lab CA and whose token service wants a user
and password; the gateway's release is then listed and the image pulled from there with those credentials."""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from .conftest import REPO, VENV_BIN, free_port, run_playbook

sys.path.insert(0, os.path.join(REPO, "lab"))
# pylint: disable=wrong-import-position
import bundlekit  # noqa: E402  (lab/ is not a package)
from labkit import GATEWAY_REPOSITORY, ansible_env  # noqa: E402
from token_registry import TokenRegistry  # noqa: E402

PUSHER, PASSWORD = "duo-push", "mirror-Pa55word-7f3a"
GATEWAY_TAG = "self-hosted-v18.2.10-ee"
# The password as an auth file holds it.
TOKEN = base64.b64encode((PUSHER + ":" + PASSWORD).encode()).decode()
REAL_SKOPEO = shutil.which("skopeo")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """One bundle for the module: the gateway release for GitLab 18.2.1 and the lab's NGINX image."""
    directory = str(tmp_path_factory.mktemp("bundle") / "duo-bundle")
    return {"dir": directory, "manifest": bundlekit.make_bundle(directory, ["18.2.1"])}


@pytest.fixture()
def registry(lab, tmp_path):
    """A fresh internal registry per test: HTTPS with the lab CA, push and pull for PUSHER only."""
    with TokenRegistry(str(tmp_path / "registry"), users={PUSHER: PASSWORD}, tls=True) as running:
        yield running


@pytest.fixture()
def skopeo_log(tmp_path):
    """skopeo wrapped on the PATH: every command line it is given, and the mode of each auth file it is handed.
    With KILL_COPY=N in the environment, the Nth push is killed (SIGKILL) as it starts."""
    bin_dir, log = tmp_path / "bin", tmp_path / "skopeo-calls.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "skopeo"
    wrapper.write_text(
        "#!/bin/sh\nprintf 'argv: %s\\n' \"$*\" >>{log}\n"
        "for arg in \"$@\"; do case \"$arg\" in --*authfile=*) stat -c 'authfile: %a %n' \"${{arg#*=}}\" >>{log};; "
        "esac; done\n"
        "if [ \"$1\" = copy ] && [ \"$(grep -c '^argv: copy' {log})\" = \"${{KILL_COPY:-0}}\" ]; then kill -KILL $$; fi\n"
        "exec {real} \"$@\"\n".format(log=log, real=REAL_SKOPEO))
    wrapper.chmod(0o755)
    return {"env": {"PATH": "{0}:{1}".format(bin_dir, os.environ["PATH"])}, "path": log}


def mirror_play(tmp_path, registry, bundle_dir, *args, env=None, **overrides):
    """bundle_mirror.yml on the control node, the variables (the password too) in a file, never on a command line."""
    variables = {"bundle_mirror_bundle_dir": bundle_dir, "bundle_mirror_registry": registry.host,
                 "bundle_mirror_username": PUSHER, "bundle_mirror_password": PASSWORD,
                 "bundle_mirror_ca_cert": registry.ca_file}
    variables.update(overrides)
    (tmp_path / "mirror-vars.yml").write_text(yaml.safe_dump(variables))
    inventory = tmp_path / "control.ini"
    inventory.write_text("localhost ansible_connection=local\n")
    return run_playbook(str(inventory), "bundle_mirror.yml", "-e", "@" + str(tmp_path / "mirror-vars.yml"), *args,
                        env=env)


def held(registry, reference):
    """The config digest (image ID) the registry holds for ``reference`` (host/repository:tag), None when absent."""
    auth = registry.workdir + "/reader-auth.json"
    with open(auth, "w") as handle:
        json.dump({"auths": {registry.host: {"auth": TOKEN}}}, handle)
    completed = subprocess.run([REAL_SKOPEO, "inspect", "--raw", "--config", "--authfile=" + auth,
                                "--cert-dir=" + registry.cert_dir, "docker://" + reference], capture_output=True,
                               check=False)
    if completed.returncode != 0:
        assert b"manifest unknown" in completed.stderr, completed.stderr
        return None
    return "sha256:" + hashlib.sha256(completed.stdout).hexdigest()


# Where each image of the bundle lands: its repository path under the mirror's host (not the registry it came from).
MIRRORED = {"gateway": GATEWAY_REPOSITORY + ":" + GATEWAY_TAG, "proxy": "library/nginx:1.22-lab"}


def targets(registry, manifest):
    return {"{0}/{1}".format(registry.host, MIRRORED[image["role"]]): image["image_id"] for image in manifest["images"]}


def test_push_to_a_tls_registry_with_token_auth_then_nothing_on_a_rerun(registry, bundle, skopeo_log, tmp_path):
    first = mirror_play(tmp_path, registry, bundle["dir"], env=skopeo_log["env"])
    assert first.rc == 0, first.output
    assert first.recap()["localhost"]["changed"] == 1
    wanted = targets(registry, bundle["manifest"])
    assert len(wanted) == 2
    for reference, image_id in wanted.items():
        assert held(registry, reference) == image_id, reference
        assert "pushed " + reference in first.output
    # The registry gave push rights to the user whose credentials the token service checked.
    assert any(request["user"] == [PUSHER] and request["scope"][0].endswith(":pull,push")
               for request in registry.token_requests)

    again = mirror_play(tmp_path, registry, bundle["dir"], env=skopeo_log["env"])
    assert again.rc == 0 and again.recap()["localhost"]["changed"] == 0, again.output
    for reference in wanted:
        assert "present " + reference in again.output

    # The password was on no command line and in no output; skopeo read it from 0600 files that are gone now.
    calls = skopeo_log["path"].read_text()
    assert calls.count("argv: copy") == 2 and calls.count("argv: inspect") >= 6
    assert PASSWORD not in calls and TOKEN not in calls
    assert PASSWORD not in first.output + again.output and TOKEN not in first.output + again.output
    auth_files = [line.split()[2] for line in calls.splitlines() if line.startswith("authfile:")]
    assert auth_files and all(line.split()[1] == "600" for line in calls.splitlines() if line.startswith("authfile:"))
    assert not any(os.path.exists(path) or os.path.exists(os.path.dirname(path)) for path in auth_files)


def test_a_push_killed_half_way_is_finished_by_the_next_run(registry, bundle, skopeo_log, tmp_path):
    wanted = list(targets(registry, bundle["manifest"]).items())
    killed = mirror_play(tmp_path, registry, bundle["dir"], env=dict(skopeo_log["env"], KILL_COPY="2"))
    assert killed.rc != 0
    assert "Pushing {0}: skopeo: skopeo exited -9".format(wanted[1][0]) in killed.output
    assert held(registry, wanted[0][0]) == wanted[0][1] and held(registry, wanted[1][0]) is None
    auth_files = [line.split()[2] for line in skopeo_log["path"].read_text().splitlines() if line.startswith("authfile:")]
    assert auth_files and not any(os.path.exists(path) for path in auth_files), "the auth file went with the failure"

    finished = mirror_play(tmp_path, registry, bundle["dir"], env=skopeo_log["env"])
    assert finished.rc == 0 and finished.recap()["localhost"]["changed"] == 1, finished.output
    assert "present " + wanted[0][0] in finished.output and "pushed " + wanted[1][0] in finished.output
    assert all(held(registry, reference) == image_id for reference, image_id in wanted)


def test_check_mode_says_what_it_would_push_and_pushes_nothing(registry, bundle, skopeo_log, tmp_path):
    preview = mirror_play(tmp_path, registry, bundle["dir"], "--check", "--diff", env=skopeo_log["env"])
    assert preview.rc == 0, preview.output
    assert preview.recap()["localhost"]["changed"] == 1
    for reference in targets(registry, bundle["manifest"]):
        assert "push " + reference in preview.output and held(registry, reference) is None
    assert "argv: copy" not in skopeo_log["path"].read_text()


def test_a_wrong_password_names_the_registry_and_the_fix_and_never_the_password(registry, bundle, tmp_path):
    wrong = "not-the-Pa55word-91c2"
    result = mirror_play(tmp_path, registry, bundle["dir"], bundle_mirror_password=wrong)
    assert result.rc != 0
    assert "the registry refused the credentials of user '{0}'".format(PUSHER) in result.output
    assert "Fix: check registry_username and registry_password (bundle_mirror_username / bundle_mirror_password) " \
           "for {0}".format(registry.host) in result.output
    assert wrong not in result.output and PASSWORD not in result.output
    assert registry.refused_users == [PUSHER]
    assert all(held(registry, reference) is None for reference in targets(registry, bundle["manifest"]))


def test_an_untrusted_certificate_says_which_ca_to_give(registry, bundle, tmp_path):
    result = mirror_play(tmp_path, registry, bundle["dir"], bundle_mirror_ca_cert="")
    assert result.rc != 0
    assert "the registry's TLS certificate is not trusted" in result.output
    assert "x509: certificate signed by unknown authority" in result.output
    assert "Fix: give the organisation's CA file in ca_path (bundle_mirror_ca_cert)" in result.output


def test_a_corrupted_archive_is_refused_before_anything_is_pushed(registry, bundle, skopeo_log, tmp_path):
    copy = str(tmp_path / "carried-in")
    shutil.copytree(bundle["dir"], copy)
    proxy = next(image for image in bundle["manifest"]["images"] if image["role"] == "proxy")
    bundlekit.flip_byte(os.path.join(copy, proxy["archive"]))
    result = mirror_play(tmp_path, registry, copy, env=skopeo_log["env"])
    assert result.rc != 0
    assert "the archive {0} of {1} is corrupted".format(proxy["archive"], proxy["reference"]) in result.output
    assert "nothing of it was pushed" in result.output
    # The gateway's archive is intact, and comes first: it was not pushed either, as every check comes before a push.
    assert "argv: copy" not in skopeo_log["path"].read_text()
    assert all(held(registry, reference) is None for reference in targets(registry, bundle["manifest"]))


def pull_play(tmp_path, registry, run_id, password, **container):
    """On the control node: the release listed from the mirror (credentials, the lab CA), then the gateway pulled from
    there by the machine's Docker engine with the same credentials (loopback: an insecure registry to Docker, so no
    CA is needed there; the fleet test installs the CA for a host's engine)."""
    secrets = tmp_path / "pull-secrets.yml"
    secrets.write_text(yaml.safe_dump({"mirror_password": password}))
    args = {"name": "duo-m-" + run_id, "image": "{{ release.pinned_image }}", "pull": "always",
            "gitlab_url": "http://gitlab.duo-lab.test:8929", "published_port": free_port(), "bind_address": "127.0.0.1",
            "jwt_keys_dir": str(tmp_path / "keys"), "health_timeout": 20, "labels": {"gitlab_duo.test": run_id},
            "registry_username": PUSHER, "registry_password": "{{ mirror_password }}"}
    args.update(container)
    release = {"gitlab_version": "18.2.1-ee", "registry": registry.host, "ca_path": registry.ca_file,
               "registry_username": PUSHER, "registry_password": "{{ mirror_password }}"}
    play = [{"name": "Pull from the mirror", "hosts": "localhost", "gather_facts": False, "vars_files": [str(secrets)],
             "tasks": [{"name": "Release", "gitlab_duo.self_hosted.gateway_release": release, "register": "release"},
                       {"name": "Gateway", "gitlab_duo.self_hosted.gateway_container": args}]}]
    (tmp_path / "pull.yml").write_text(yaml.safe_dump(play))
    inventory = tmp_path / "control.ini"
    inventory.write_text("localhost ansible_connection=local\n")
    return subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", str(inventory), str(tmp_path / "pull.yml")],
                          capture_output=True, text=True, cwd=REPO, check=False, env=ansible_env())


def forget_mirror_images(lab, registry):
    """Untag what came from the mirror; the same image (same ID) under the lab registry's names stays for others."""
    for image in lab.images.list():
        for name in image.tags + image.attrs.get("RepoDigests", []):
            if name.startswith(registry.host + "/"):
                lab.images.remove(name)


def test_the_gateway_is_listed_and_pulled_from_the_mirror_with_credentials(lab, registry, bundle, run_id, tmp_path):
    assert mirror_play(tmp_path, registry, bundle["dir"]).rc == 0
    try:
        wrong = pull_play(tmp_path, registry, run_id, "not-the-Pa55word-91c2")
        assert wrong.returncode != 0
        assert "The registry's token service https://{0}".format(registry.address) in wrong.stdout
        assert "HTTP 401" in wrong.stdout and "not-the-Pa55word-91c2" not in wrong.stdout

        # The engine's pull goes with the credentials given to the container, and a refusal says what to set.
        # (First: once an engine has pulled repository@digest, it does not ask the registry again for it.)
        refused = pull_play(tmp_path, registry, run_id, PASSWORD, registry_password="wrong-password-e4d1")
        assert refused.returncode != 0, refused.stdout
        assert "Cannot pull {0}".format(registry.host) in refused.stdout
        assert "refused the credentials of user '{0}'".format(PUSHER) in refused.stdout
        assert "ai_gateway_registry_password" in refused.stdout
        assert "wrong-password-e4d1" not in refused.stdout and PASSWORD not in refused.stdout

        asked = len(registry.token_requests)
        pulled = pull_play(tmp_path, registry, run_id, PASSWORD)
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr
        container = lab.containers.get("duo-m-" + run_id)
        reference, _sep, digest = container.attrs["Config"]["Image"].partition("@")
        gateway = next(image for image in bundle["manifest"]["images"] if image["role"] == "gateway")
        assert reference == "{0}/{1}".format(registry.host, MIRRORED["gateway"])
        assert digest.startswith("sha256:") and container.attrs["Image"] == gateway["image_id"]
        assert PASSWORD not in pulled.stdout + pulled.stderr
        engine = [request for request in registry.token_requests[asked:] if request["agent"][0].startswith("docker/")]
        assert engine and all(request["user"] == [PUSHER] for request in engine), "the engine's pull logged in"
    finally:
        forget_mirror_images(lab, registry)
