"""Air-gap bundles for tests, made from the lab registry (the one place tests make them: swap in
playbooks/bundle.yml here once it lands). Images are fetched with the collection's own skopeo code
(plugins/module_utils/_bundle/images.py) and the manifest is written with _bundle/manifest.py, format 1."""

import datetime
import os
import shutil

import requests

from labkit import GATEWAY_REPOSITORY, REGISTRY

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import images, manifest
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.release import choose_release
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.version import (
    format_version, parse_gitlab_version)

# The names the archives load as: what a bundle built from registry.gitlab.com and Docker Hub carries.
GATEWAY_REFERENCE = "registry.gitlab.com/" + GATEWAY_REPOSITORY + ":{0}"
LAB_NGINX = REGISTRY + "/library/nginx:1.22-lab"
PROXY_REFERENCE = "docker.io/library/nginx:1.22-lab"


def registry_tags(registry=REGISTRY, repository=GATEWAY_REPOSITORY):
    answer = requests.get("http://{0}/v2/{1}/tags/list".format(registry, repository), timeout=10)
    answer.raise_for_status()
    return answer.json()["tags"]


def _entry(bundle, role, source, reference, repository, tag, versions):
    archive = manifest.archive_name(repository, tag)
    fetched = images.fetch_image(source, os.path.join(bundle, archive), reference, tls_verify=False)
    return dict(fetched, role=role, source=source, reference=reference, repository=repository, tag=tag,
                platform="linux/amd64", archive=archive, gitlab_versions=versions)


def make_bundle(bundle, gitlab_versions, proxy=True):
    """A bundle in ``bundle`` (made anew) for ``gitlab_versions`` (e.g. ["18.2.1", "18.3.0"]): each version's
    gateway release chosen from the lab registry's tags as gateway_release chooses it, loading as
    registry.gitlab.com/...:<tag>, and with ``proxy`` the lab's NGINX image loading as PROXY_REFERENCE. The manifest."""
    shutil.rmtree(bundle, ignore_errors=True)
    os.makedirs(bundle)
    tags = registry_tags()
    chosen = {}
    for version in gitlab_versions:
        chosen.setdefault(choose_release(parse_gitlab_version(version), tags), []).append(
            format_version(parse_gitlab_version(version)))
    entries = [_entry(bundle, "gateway", "{0}/{1}:{2}".format(REGISTRY, GATEWAY_REPOSITORY, tag),
                      GATEWAY_REFERENCE.format(tag), "registry.gitlab.com/" + GATEWAY_REPOSITORY, tag, versions)
               for tag, versions in sorted(chosen.items())]
    if proxy:
        entries.append(_entry(bundle, "proxy", LAB_NGINX, PROXY_REFERENCE, "docker.io/library/nginx", "1.22-lab", []))
    data = {"format": manifest.FORMAT,
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "collection": {"name": "gitlab_duo.self_hosted", "version": "0.1.0"},
            "gitlab_versions": {version: tag for tag, versions in chosen.items() for version in versions},
            "images": entries, "wheels": {}, "files": manifest.file_entries(bundle)}
    manifest.write(bundle, data)
    return data


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
