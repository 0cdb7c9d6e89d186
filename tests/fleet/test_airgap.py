"""Install and upgrade on the air-gapped host air01 from a bundle on the control node (ai_gateway_source=bundle), while
air01 has no route to any registry: the gateway and NGINX (in a container) come from the bundle's archives, copied
only when air01 lacks the image; a second run copies nothing; a damaged archive is refused on air01 before it is
loaded while the running gateway serves on; the upgrade loads the new release first; a GitLab version the bundle does
not cover fails naming the versions it covers. The GitLab stand-in runs on air01 itself.

Runs on any fleet size (air01 is always there): DUO_FLEET_SIZE=1 for this file alone."""

import json
import os
import re
import ssl
import urllib.request

import pytest

from .conftest import fleet, fleetkit, run_playbook, ssh

# pylint: disable=wrong-import-position
import bundlekit  # noqa: E402  (lab/ is on the path: conftest)

FIRST, SECOND = "18.2.1", "18.3.0"  # two minors
FIRST_TAG, SECOND_TAG = "self-hosted-v18.2.10-ee", "self-hosted-v18.3.0-ee"
GATEWAY, PROXY = "gitlab-ai-gateway", "gitlab-ai-gateway-proxy"
STAGING = "/var/lib/gitlab-ai-gateway/bundle"


@pytest.fixture(scope="module")
def air(fleet_lab, tmp_path_factory):
    """A bundle for GitLab 18.2.1 and 18.3.0 (and the lab's NGINX), GitLab 18.2.1 on air01 and its gateway on air01
    behind NGINX in a container with a certificate from the fleet CA (no ACME server is reachable from air01).
    Afterwards air01 is left as the other fleet tests expect it: no containers, no images."""
    workdir = tmp_path_factory.mktemp("fleet-airgap")
    bundle = str(workdir / "bundle")
    data = bundlekit.make_bundle(bundle, [FIRST, SECOND], proxy=True)
    host = fleet_lab.hosts["air01"]
    gitlab = fleet_lab.gitlab("air01", "gitlab-air", FIRST + "-ee")
    cert, key = fleet.issue("air01", dns_names=[host.fqdn])
    gateway = {"ansible_host": host.address, "ai_gateway_gitlab_instance": gitlab.name, "ai_gateway_health_timeout": 30,
               "ai_gateway_airgapped": True, "ai_gateway_source": "bundle", "ai_gateway_bundle": bundle,
               "tls_proxy_enabled": True, "tls_proxy_mode": "container", "tls_proxy_image": bundlekit.PROXY_REFERENCE,
               "tls_proxy_domains": [host.fqdn], "tls_proxy_certificate_mode": "provided",
               "tls_proxy_certificate_file": cert, "tls_proxy_key_file": key}
    common = fleetkit.common_vars(workdir / "reports")
    common.update(fleet_lab.prepare_vars())
    inventory = fleetkit.write_inventory(workdir / "inventory.yml", {gitlab.name: gitlab.host_vars()},
                                         {host.fqdn: gateway}, **common)
    yield {"lab": fleet_lab, "host": host, "gitlab": gitlab, "bundle": bundle, "data": data, "inventory": inventory,
           "reports": workdir / "reports", "url": "https://" + host.fqdn}
    engine = fleet_lab.docker("air01")
    for container in engine.containers.list(all=True):
        container.remove(force=True)
    for image in engine.images.list(all=True):
        engine.images.remove(image.id, force=True)


def entry(air, tag):
    return next(image for image in air["data"]["images"] if image.get("tag") == tag)


def containers(air):
    return {container.name: container for container in air["lab"].docker("air01").containers.list(all=True)}


def image_ids(air):
    return {image.id for image in air["lab"].docker("air01").images.list(all=True)}


def staged_files(air):
    return ssh(air["host"], "sudo find {0} -type f".format(STAGING)).stdout.split()


def task_results(output, name):
    """The status lines (changed/ok/skipping/fatal) of every run of the task whose name starts with ``name``."""
    found = []
    for block in re.split(r"\n(?=TASK \[)", output):
        if block.startswith("TASK [") and re.match(r"TASK \[[^\]]*: " + re.escape(name), block):
            found += re.findall(r"^(changed|ok|skipping|fatal): ", block, re.M)
    return found


def said(result):
    """The play's output with its whitespace collapsed (YAML output folds long messages across lines)."""
    return " ".join(result.output.split())


def healthz(air):
    context = ssl.create_default_context(cafile=os.path.join(fleet.CA_DIR, "trusted.pem"))
    with urllib.request.urlopen(air["url"] + "/monitoring/healthz", context=context, timeout=10) as answer:
        return answer.status


def upgrade_row(air):
    with open(str(air["reports"] / "upgrade" / "upgrade.json")) as handle:
        return next(row for row in json.load(handle)["rows"] if row["host"] == air["host"].fqdn)


def test_air01_reaches_no_registry(air):
    host = air["host"]
    assert ssh(host, "ip route get " + fleet.BRIDGE_ADDRESS).returncode != 0, "air01 has a route to the bridge"
    pulled = ssh(host, "sudo timeout 60 docker pull " + fleet.REGISTRY + "/library/nginx:1.22-lab")
    assert pulled.returncode != 0 and "network is unreachable" in pulled.stderr, pulled.stderr
    assert ssh(host, "sudo timeout 20 docker pull " + bundlekit.PROXY_REFERENCE).returncode != 0


def test_install_from_the_bundle(air):
    # One machine carries both inventory hosts: prepared once.
    prepared = run_playbook(air["inventory"], "prepare_hosts.yml", "-e", "prepare_hosts_targets=" + air["host"].fqdn)
    assert prepared.rc == 0, prepared.output
    preview = run_playbook(air["inventory"], "install.yml", "--check", "--diff")
    assert preview.rc == 0, preview.output
    assert image_ids(air) == set() and containers(air) == {}, "check mode loaded or ran something"
    assert entry(air, FIRST_TAG)["archive"] in preview.output  # what would be copied

    result = run_playbook(air["inventory"], "install.yml")
    assert result.rc == 0, result.output
    # Both archives (the gateway's and NGINX's) were copied, as air01 had neither image.
    assert task_results(result.output, "Copy the archive") == ["changed", "changed"], result.output
    running = containers(air)
    gateway, first = running[GATEWAY], entry(air, FIRST_TAG)
    assert gateway.attrs["Config"]["Image"] == first["reference"]
    assert gateway.attrs["Image"] == first["image_id"]
    assert running[PROXY].attrs["Config"]["Image"] == bundlekit.PROXY_REFERENCE
    assert running[PROXY].attrs["Image"] == entry(air, "1.22-lab")["image_id"]
    assert air["gitlab"].state["ai_settings"]["ai_gateway_url"] == air["url"]
    assert healthz(air) == 200
    # The archives were removed once loaded; the staging directory is root's alone.
    assert staged_files(air) == []
    assert ssh(air["host"], "sudo stat -c %a " + STAGING).stdout.strip() == "700"


def test_a_second_run_copies_nothing_and_changes_nothing(air):
    before = {name: container.id for name, container in containers(air).items()}
    result = run_playbook(air["inventory"], "install.yml")
    assert result.rc == 0, result.output
    assert task_results(result.output, "Copy the archive") == ["skipping", "skipping"], result.output
    assert result.changed() == 0, result.output
    assert {name: container.id for name, container in containers(air).items()} == before


def test_a_damaged_archive_is_refused_on_air01_and_the_gateway_serves_on(air):
    second = entry(air, SECOND_TAG)
    gateway_before = containers(air)[GATEWAY]
    restore = bundlekit.flip_byte(os.path.join(air["bundle"], second["archive"]))  # the manifest is left as it was
    air["gitlab"].set_version(SECOND + "-ee")
    try:
        result = run_playbook(air["inventory"], "upgrade.yml")
    finally:
        restore()
    assert result.rc != 0, result.output
    assert "the bundle manifest says " + second["sha256"] in said(result)
    assert second["image_id"] not in image_ids(air), "the damaged archive was loaded"
    assert staged_files(air) == [], "the damaged archive was left on air01"
    gateway = containers(air)[GATEWAY]
    assert gateway.id == gateway_before.id and gateway.status == "running"
    assert gateway.attrs["Config"]["Image"] == entry(air, FIRST_TAG)["reference"]
    assert healthz(air) == 200
    row = upgrade_row(air)
    assert row["result"] == "rolled_back", row
    assert row["why"].startswith("load the new release from the bundle failed") and second["sha256"] in row["why"]
    assert row["tag_after"] == FIRST_TAG


def test_upgrade_check_mode_shows_the_load_and_changes_nothing(air):
    before = {name: container.id for name, container in containers(air).items()}
    images_before = image_ids(air)
    preview = run_playbook(air["inventory"], "upgrade.yml", "--check", "--diff")
    assert preview.rc == 0, preview.output
    assert os.path.join(air["bundle"], entry(air, SECOND_TAG)["archive"]) in preview.output  # what would be copied
    assert "would upgrade {0} to {1}".format(FIRST_TAG, SECOND_TAG) in said(preview)
    assert {name: container.id for name, container in containers(air).items()} == before
    assert image_ids(air) == images_before and staged_files(air) == []


def test_upgrade_from_the_bundle(air):
    second = entry(air, SECOND_TAG)
    result = run_playbook(air["inventory"], "upgrade.yml")
    assert result.rc == 0, result.output
    assert task_results(result.output, "Copy the archive") == ["changed"], result.output
    gateway = containers(air)[GATEWAY]
    assert gateway.attrs["Config"]["Image"] == second["reference"] and gateway.attrs["Image"] == second["image_id"]
    assert containers(air)[PROXY].status == "running" and GATEWAY + "-surge" not in containers(air)
    row = upgrade_row(air)
    assert (row["result"], row["tag_before"], row["tag_after"]) == ("upgraded", FIRST_TAG, SECOND_TAG), row
    assert healthz(air) == 200
    assert staged_files(air) == []


def test_a_version_the_bundle_does_not_cover_names_the_versions_it_covers(air):
    gateway_before = containers(air)[GATEWAY].id
    air["gitlab"].set_version("18.10.0-ee")
    try:
        result = run_playbook(air["inventory"], "upgrade.yml")
    finally:
        air["gitlab"].set_version(SECOND + "-ee")
    assert result.rc != 0, result.output
    assert "has no gateway image for GitLab 18.10.0" in said(result)
    assert "It covers GitLab {0} ({1}), {2} ({3})".format(FIRST, FIRST_TAG, SECOND, SECOND_TAG) in said(result)
    assert "bundle_gitlab_versions=[18.2.1,18.3.0,18.10.0]" in said(result)
    assert containers(air)[GATEWAY].id == gateway_before
