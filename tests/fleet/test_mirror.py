"""The internal registry mirror on the fleet: a bundle's images pushed into a registry that listens on the air-gap link
(HTTPS with the organisation's CA, a token service that wants a user and password), then install.yml on the
air-gapped host air01, whose only link is to the control node: the gateway and NGINX's image are pulled from the
mirror with the credentials, the CA is installed for air01's Docker engine, and nothing else is reachable from it.

Only air01 is needed: DUO_FLEET_SIZE=0 keeps the fleet small when this file runs alone."""

import os
import sys

import docker
import pytest
import yaml

from .conftest import fleet, fleetkit, run_playbook, ssh

sys.path.insert(0, os.path.join(fleet.REPO, "lab"))
# pylint: disable=wrong-import-position
import bundlekit  # noqa: E402  (lab/ is not a package)
from token_registry import TokenRegistry  # noqa: E402

PUSHER, PASSWORD = "duo-mirror", "fleet-Mirror-Pa55-2b71"
GATEWAY_TAG = "self-hosted-v18.2.10-ee"


@pytest.fixture(scope="module")
def mirror(fleet_lab, tmp_path_factory):
    """The bundle (GitLab 18.2.1's gateway release and the lab's NGINX image) and the mirror on the air-gap link."""
    workdir = tmp_path_factory.mktemp("fleet-mirror")
    bundle_dir = str(workdir / "duo-bundle")
    manifest = bundlekit.make_bundle(bundle_dir, ["18.2.1"])
    with TokenRegistry(str(workdir / "registry"), address=fleet.AIRGAP_CONTROL_ADDRESS, users={PUSHER: PASSWORD},
                       tls=True) as registry:
        yield {"registry": registry, "bundle": bundle_dir, "manifest": manifest, "workdir": workdir, "lab": fleet_lab}


def image(mirror, role):
    return next(entry for entry in mirror["manifest"]["images"] if entry["role"] == role)


# Each image's repository path under the mirror's host (not the registry the bundle took it from).
PATHS = {"gateway": ("gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway", GATEWAY_TAG),
         "proxy": ("library/nginx", "1.22-lab")}


def mirrored(mirror, role):
    return "{0}/{1}:{2}".format(mirror["registry"].host, *PATHS[role])


def secrets_file(mirror, **variables):
    path = mirror["workdir"] / "secrets.yml"
    path.write_text(yaml.safe_dump(variables))
    path.chmod(0o600)
    return "@" + str(path)


@pytest.fixture(scope="module")
def inventory(mirror):
    """GitLab 18.2.1 (stand-in) on air01 and its gateway on air01 behind NGINX in a container, the certificate from
    the fleet's CA (air01 reaches no ACME server); both images from the mirror, which air01 reaches on its link."""
    lab, registry = mirror["lab"], mirror["registry"]
    gitlab = lab.gitlab("air01", "gitlab-mirror", "18.2.1-ee", port=8091)
    fqdn = lab.hosts["air01"].fqdn
    cert, key = fleet.issue("air01", dns_names=[fqdn])
    gateway = lab.gateway_vars(
        "air01", "gitlab-mirror", ai_gateway_registry=registry.host, ai_gateway_registry_username=PUSHER,
        ai_gateway_registry_ca_cert=registry.ca_file, tls_proxy_enabled=True, tls_proxy_mode="container",
        tls_proxy_image=mirrored(mirror, "proxy"), tls_proxy_domains=[fqdn], tls_proxy_certificate_mode="provided",
        tls_proxy_certificate_file=cert, tls_proxy_key_file=key)
    common = fleetkit.common_vars(mirror["workdir"] / "reports")
    common.update(lab.prepare_vars())
    path = fleetkit.write_inventory(mirror["workdir"] / "inventory.yml", {"gitlab-mirror": gitlab.host_vars()},
                                    {fqdn: gateway}, **common)
    yield {"path": path, "gitlab": gitlab, "secrets": secrets_file(mirror, ai_gateway_registry_password=PASSWORD)}
    # Leave air01 as other tests expect it: no gateway, proxy or image of this test (its engine's store as before).
    engine = lab.docker("air01")
    for name in ("gitlab-ai-gateway", "gitlab-ai-gateway-proxy"):
        for container in engine.containers.list(all=True, filters={"name": "^/{0}$".format(name)}):
            container.remove(force=True)
    for network in engine.networks.list(names=["gitlab-ai-gateway"]):
        network.remove()
    for pulled in engine.images.list():
        for reference in pulled.tags + pulled.attrs.get("RepoDigests", []):
            if reference.startswith(registry.host + "/"):
                try:
                    engine.images.remove(reference)
                except docker.errors.ImageNotFound:  # its last name went with an earlier one
                    pass
    lab.hosts["air01"].run("rm -rf /etc/docker/certs.d/" + registry.host)


def test_the_bundle_is_pushed_to_the_mirror_on_the_air_gap_link(mirror):
    registry = mirror["registry"]
    variables = secrets_file(mirror, bundle_mirror_bundle_dir=mirror["bundle"], bundle_mirror_registry=registry.host,
                             bundle_mirror_username=PUSHER, bundle_mirror_password=PASSWORD,
                             bundle_mirror_ca_cert=registry.ca_file)
    control = mirror["workdir"] / "control.ini"
    control.write_text("localhost ansible_connection=local\n")
    pushed = run_playbook(str(control), "bundle_mirror.yml", "-e", variables)
    assert pushed.rc == 0, pushed.output
    for role in ("gateway", "proxy"):
        assert "pushed " + mirrored(mirror, role) in pushed.output
    assert PASSWORD not in pushed.output


def test_install_on_the_airgapped_host_pulls_from_the_mirror(mirror, inventory):
    lab, registry = mirror["lab"], mirror["registry"]
    air = lab.hosts["air01"]
    # gitlab-air is the same machine: prepared once (two apt runs at once on one host would clash on its lock).
    prepared = run_playbook(inventory["path"], "prepare_hosts.yml", "-e", "prepare_hosts_targets=ai_gateway")
    assert prepared.rc == 0, prepared.output

    asked = len(registry.token_requests)
    installed = run_playbook(inventory["path"], "install.yml", "-e", inventory["secrets"])
    assert installed.rc == 0, installed.output
    assert PASSWORD not in installed.output

    # The gateway runs the release for GitLab 18.2.1, pulled from the mirror: its reference, pinned to the digest the
    # mirror gave, and the image ID the bundle's manifest names. NGINX's image came from there too.
    engine = lab.docker("air01")
    gateway = engine.containers.get("gitlab-ai-gateway")
    reference, _sep, digest = gateway.attrs["Config"]["Image"].partition("@")
    assert reference == mirrored(mirror, "gateway") and digest.startswith("sha256:")
    assert gateway.attrs["Image"] == image(mirror, "gateway")["image_id"]
    proxy = engine.containers.get("gitlab-ai-gateway-proxy")
    assert proxy.attrs["Config"]["Image"] == mirrored(mirror, "proxy") and proxy.status == "running"
    assert proxy.attrs["Image"] == image(mirror, "proxy")["image_id"]
    assert inventory["gitlab"].state["ai_settings"]["ai_gateway_url"] == "https://" + air.fqdn

    # air01's engine logged in for both pulls (the token service saw its user and Docker's User-Agent) ...
    pulls = [request for request in registry.token_requests[asked:] if request["agent"][0].startswith("docker/")]
    assert {request["scope"][0].split(":")[1] for request in pulls} == {
        PATHS["gateway"][0], PATHS["proxy"][0]}
    assert all(request["user"] == [PUSHER] for request in pulls), pulls
    # ... trusting the organisation's CA where Docker reads it, with no login stored on the host.
    installed_ca = ssh(air, "sudo cat /etc/docker/certs.d/{0}/ca.crt".format(registry.host), check=True).stdout
    assert installed_ca == open(registry.ca_file).read()
    assert ssh(air, "sudo ls /root/.docker/config.json").returncode != 0

    # Still air-gapped: no route to the bridge, where the lab registry and every other host are.
    assert ssh(air, "ip route get " + fleet.BRIDGE_ADDRESS).returncode != 0

    again = run_playbook(inventory["path"], "install.yml", "-e", inventory["secrets"])
    assert again.rc == 0 and again.changed() == 0, again.output
