"""Benchmark installs from the air-gap bundle on the fleet lab: bytes sent to each host, and wall time against a
registry pull.

A gateway image with an incompressible ballast layer (--ballast-mb, default 100 MB: real gateway releases are
gigabytes, so Ansible's own traffic is a rounding error there and must not hide the archive here) is pushed to the
lab registry, and playbooks/bundle.yml packs it. N fleet hosts (node01..nodeN), each running one GitLab stand-in
and one gateway for it (no proxy), then:

  bundle   install.yml with ai_gateway_source=bundle: the archive is copied to every host and loaded
  rerun    the same again: nothing is copied (changed=0 asserted)
  registry the gateways and images removed, install.yml pulling from the fleet's registry mirror (warmed first)

Bytes are what the control node's end of each host's veth sent to it (/sys/class/net/df-<host>/statistics/
tx_bytes): everything, SSH and Ansible's modules included. The archive's share is the first run's bytes less the
rerun's (the same playbook moving no archive), divided by the archive's size.

Usage: flock -o /work/fleet.lock .venv/bin/python benchmarks/airgap_bench.py [--size 10] [--ballast-mb 100]
Brings its own fleet up and takes it down. Prints JSON lines, then a Markdown table; numbers are from this machine.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab"))

import docker  # noqa: E402

import fleet_hosts as fleet  # noqa: E402
import fleetkit  # noqa: E402
from labkit import GATEWAY_REPOSITORY, REGISTRY, lab_up, run_playbook  # noqa: E402

BENCH_REPOSITORY = "duo-bench/model-gateway"
TAG = "self-hosted-v18.2.1-ee"
GITLAB_VERSION = "18.2.1-ee"


def ballast_image(megabytes, workdir):
    """The 18.2.1 stand-in plus one layer of ``megabytes`` random bytes, pushed as BENCH_REPOSITORY:TAG."""
    context = os.path.join(workdir, "ballast")
    os.makedirs(context)
    with open(os.path.join(context, "ballast.bin"), "wb") as handle:
        handle.writelines(os.urandom(1024 * 1024) for _megabyte in range(megabytes))
    with open(os.path.join(context, "Dockerfile"), "w") as handle:
        handle.write("FROM {0}/{1}:{2}\nCOPY ballast.bin /ballast.bin\n".format(REGISTRY, GATEWAY_REPOSITORY, TAG))
    client = docker.from_env()
    reference = "{0}/{1}:{2}".format(REGISTRY, BENCH_REPOSITORY, TAG)
    client.images.build(path=context, tag=reference, rm=True)
    for line in client.images.push("{0}/{1}".format(REGISTRY, BENCH_REPOSITORY), tag=TAG, stream=True, decode=True):
        if "error" in line:
            raise SystemExit("push failed: " + line["error"])
    shutil.rmtree(context)


def build_bundle(bundle):
    started = time.monotonic()
    inventory = os.path.join(os.path.dirname(bundle), "localhost.yml")
    with open(inventory, "w") as handle:
        handle.write("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: "
                     "{0}\n".format(sys.executable))
    result = run_playbook(inventory, "bundle.yml", "-e", json.dumps({
        "bundle_dir": bundle, "bundle_gitlab_versions": [GITLAB_VERSION], "bundle_registry": "http://" + REGISTRY,
        "bundle_repository": BENCH_REPOSITORY, "bundle_control_wheels": False, "bundle_targets_wheels": False}))
    if result.rc != 0:
        raise SystemExit("bundle.yml failed:\n" + result.output[-3000:])
    with open(os.path.join(bundle, "manifest.json")) as handle:
        data = json.load(handle)
    return time.monotonic() - started, data["images"][0]["size"]


def sent_to(host):
    with open("/sys/class/net/df-{0}/statistics/tx_bytes".format(host)) as handle:
        return int(handle.read())


def scenario(lab, size, workdir, bundle):
    names = ["node{0:02d}".format(index) for index in range(1, size + 1)]
    gitlabs, gateways = {}, {}
    for name in names:
        gitlabs["gitlab-" + name] = lab.gitlab(name, "gitlab-" + name, GITLAB_VERSION).host_vars()
        gateways[lab.hosts[name].fqdn] = lab.gateway_vars(name, "gitlab-" + name,
                                                          ai_gateway_repository=BENCH_REPOSITORY,
                                                          ai_gateway_bundle=bundle)
    common = fleetkit.common_vars(os.path.join(workdir, "reports"))
    common.update(lab.prepare_vars(), verify_run_rake=False, troubleshoot_run_rake=False)
    inventory = fleetkit.write_inventory(os.path.join(workdir, "inventory.yml"), gitlabs, gateways, **common)
    return inventory, names


def timed_install(inventory, names, source, expect_unchanged=False):
    before = {name: sent_to(name) for name in names}
    started = time.monotonic()
    result = run_playbook(inventory, "install.yml", "--forks", "10", "-e", "ai_gateway_source=" + source)
    seconds = time.monotonic() - started
    if result.rc != 0:
        raise SystemExit("install ({0}) failed:\n{1}".format(source, result.output[-3000:]))
    if expect_unchanged and result.changed():
        raise SystemExit("the rerun changed {0} things".format(result.changed()))
    sent = [sent_to(name) - before[name] for name in names]
    return seconds, max(sent), sum(sent) / len(sent)


def wipe(lab, names):
    """Each host back to no gateway and no gateway image (the registry run starts from the same place)."""
    for name in names:
        client = lab.docker(name)
        for container in client.containers.list(all=True, filters={"name": "gitlab-ai-gateway"}):
            container.remove(force=True)
        for image in client.images.list():
            if any(BENCH_REPOSITORY in tag for tag in image.tags):
                client.images.remove(image.id, force=True)


def warm_mirror(lab, name):
    """Pull once through the fleet's registry mirror so the registry run measures the mirror, not its cache."""
    client = lab.docker(name)
    reference = "{0}/{1}".format(fleet.REGISTRY, BENCH_REPOSITORY)
    client.images.pull(reference, tag=TAG)
    client.images.remove("{0}:{1}".format(reference, TAG), force=True)


def measure(lab, size, workdir, bundle, archive_size):
    inventory, names = scenario(lab, size, workdir, bundle)
    prepared = run_playbook(inventory, "prepare_hosts.yml", "--forks", "10", "-e", "prepare_hosts_targets=ai_gateway")
    if prepared.rc != 0:
        raise SystemExit("prepare_hosts failed:\n" + prepared.output[-3000:])
    row = {"size": size, "archive": archive_size}
    for step, source, unchanged in (("bundle", "bundle", False), ("rerun", "bundle", True)):
        fleet.stop_ssh_masters()
        measured = timed_install(inventory, names, source, unchanged)
        row[step], row[step + "_max_bytes"], row[step + "_mean_bytes"] = measured
        print(json.dumps(row), flush=True)
    wipe(lab, names)
    warm_mirror(lab, names[0])
    fleet.stop_ssh_masters()
    measured = timed_install(inventory, names, "registry")
    row["registry"], row["registry_max_bytes"], row["registry_mean_bytes"] = measured
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--ballast-mb", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (bundle, inventory)")
    args = parser.parse_args()
    lab_up()
    workdir = tempfile.mkdtemp(prefix="duo-airgap-bench-")
    try:
        ballast_image(args.ballast_mb, workdir)
        bundle = os.path.join(workdir, "bundle")
        build_seconds, archive_size = build_bundle(bundle)
        rebuild_seconds, _size = build_bundle(bundle)
        row = fleetkit.with_fleet(args.size, lambda lab: measure(lab, args.size, workdir, bundle, archive_size))
    finally:
        if args.keep:
            print("kept " + workdir, flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    row.update(build=build_seconds, rebuild=rebuild_seconds)
    print(json.dumps(row), flush=True)
    megabyte = 1048576.0
    print("\n| hosts | archive (MB) | bundle build / rebuild (s) | install from bundle (s) | rerun (s) | "
          "install by registry pull (s) | bytes to a host, first run (MB, max) | rerun (MB, max) | "
          "(first - rerun) / archive | registry pull bytes to a host (MB, max) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("| {size} | {archive_mb:.1f} | {build:.0f} / {rebuild:.0f} | {bundle:.1f} | {rerun:.1f} | {registry:.1f} | "
          "{first_mb:.1f} | {rerun_mb:.2f} | {ratio:.3f} | {registry_mb:.1f} |".format(
              archive_mb=row["archive"] / megabyte, first_mb=row["bundle_max_bytes"] / megabyte,
              rerun_mb=row["rerun_max_bytes"] / megabyte, registry_mb=row["registry_max_bytes"] / megabyte,
              ratio=(row["bundle_max_bytes"] - row["rerun_max_bytes"]) / float(row["archive"]), **row))


if __name__ == "__main__":
    main()
