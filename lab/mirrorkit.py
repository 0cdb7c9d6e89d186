"""Test bundles for the registry-mirror tests: the lab registry's images fetched into gzipped docker-archives with
the collection's own skopeo helper, and a format-1 manifest written with the collection's own writer, as the
bundle playbook lays them out. (Until a test builds its bundle with playbooks/bundle.yml, this is the one place
that makes one.)"""

import datetime
import os

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._bundle import images, manifest

LAB_REGISTRY = "127.0.0.1:5000"
GATEWAY_REPOSITORY = "gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway"
PROXY = ("library/nginx", "1.22-lab")


def make_bundle(directory, gitlab_versions, proxy=True):
    """A bundle in ``directory`` holding the gateway release of each {GitLab version: tag} of ``gitlab_versions``
    and (``proxy``) the lab's NGINX image; returns the manifest written."""
    os.makedirs(directory, exist_ok=True)
    wanted = [("gateway", GATEWAY_REPOSITORY, tag, sorted(v for v, t in gitlab_versions.items() if t == tag))
              for tag in sorted(set(gitlab_versions.values()))]
    if proxy:
        wanted.append(("proxy", PROXY[0], PROXY[1], []))
    entries = []
    for role, repository, tag, versions in wanted:
        source = "{0}/{1}:{2}".format(LAB_REGISTRY, repository, tag)
        archive = manifest.archive_name(repository, tag)
        fetched = images.fetch_image(source, os.path.join(directory, archive), source, tls_verify=False)
        entries.append(dict(fetched, role=role, source=source, reference=source, repository=repository, tag=tag,
                            platform="linux/amd64", archive=archive, gitlab_versions=versions))
    data = {"format": manifest.FORMAT,
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "collection": {"name": "gitlab_duo.self_hosted", "version": "0.1.0", "file": None},
            "gitlab_versions": dict(gitlab_versions), "images": entries}
    data["files"] = manifest.file_entries(directory)
    manifest.write(directory, data)
    return data


def corrupt(directory, image, offset=100):
    """Flip one byte of ``image``'s archive in the bundle (the size stays: only the checksum can tell)."""
    path = os.path.join(directory, image["archive"])
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return path
