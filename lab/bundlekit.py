"""Air-gap bundles for tests, made from the lab registry by playbooks/bundle.yml itself (the one place tests make
them), as a user would on a connected machine: the gateway releases for the GitLab versions given and the lab's
NGINX image, loading under the names a bundle built from registry.gitlab.com and Docker Hub carries. Wheels are left
out (tests/lab/test_bundle.py covers them): these tests are about images."""

import json
import os
import shutil

from labkit import GATEWAY_REPOSITORY, REGISTRY, run_playbook

# The names the archives load as: what a bundle built from registry.gitlab.com and Docker Hub carries.
GATEWAY_REFERENCE = "registry.gitlab.com/" + GATEWAY_REPOSITORY + ":{0}"
LAB_NGINX = REGISTRY + "/library/nginx:1.22-lab"
PROXY_REFERENCE = "docker.io/library/nginx:1.22-lab"


def make_bundle(bundle, gitlab_versions, proxy=True):
    """A bundle in ``bundle`` (made anew) for ``gitlab_versions`` (e.g. ["18.2.1", "18.3.0"]), built by bundle.yml
    from the lab registry, its gateway images loading as registry.gitlab.com/...:<tag>, and with ``proxy`` the lab's
    NGINX image loading as PROXY_REFERENCE. Returns the manifest."""
    shutil.rmtree(bundle, ignore_errors=True)
    parent = os.path.dirname(os.path.abspath(bundle))
    os.makedirs(parent, exist_ok=True)
    inventory = os.path.join(parent, "bundle-inventory.yml")
    with open(inventory, "w") as handle:
        handle.write("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    variables = {"bundle_dir": bundle, "bundle_gitlab_versions": list(gitlab_versions),
                 "bundle_registry": "http://" + REGISTRY, "bundle_repository": GATEWAY_REPOSITORY,
                 "bundle_image_registry": "registry.gitlab.com",
                 "bundle_control_wheels": False, "bundle_targets_wheels": False}
    if proxy:
        variables.update(bundle_proxy_image=PROXY_REFERENCE, bundle_proxy_source="http://" + LAB_NGINX)
    result = run_playbook(inventory, "bundle.yml", "-e", json.dumps(variables))
    if result.rc != 0:
        raise RuntimeError("bundle.yml failed:\n" + result.output[-4000:])
    with open(os.path.join(bundle, "manifest.json")) as handle:
        return json.load(handle)


def flip_byte(path, offset=None):
    """Damage a file as a bad disk or copy would: one byte inverted (in the middle unless ``offset``). Returns a
    function that puts it back."""
    size = os.path.getsize(path)
    offset = size // 2 if offset is None else offset
    with open(path, "r+b") as handle:
        handle.seek(offset)
        original = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([original[0] ^ 0xFF]))
    stat = os.stat(path)

    def restore():
        with open(path, "r+b") as handle:
            handle.seek(offset)
            handle.write(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return restore
