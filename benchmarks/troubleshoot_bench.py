"""Benchmark playbooks/troubleshoot.yml on the lab: wall time for 1 and for 10 GitLab instances (each with its own
gateway on the host network), and gitlab-rails runner invocations per instance (target: 1; each costs 30-60 s of
Rails boot on a real GitLab).

Usage: .venv/bin/python benchmarks/troubleshoot_bench.py [--sizes 1 10]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab"))

from labkit import fleet, free_port, lab_up, run_playbook, write_inventory  # noqa: E402


def host_network_gateway(_index):
    """A gateway on the host network, so that it reaches the GitLab stand-in on loopback."""
    port = free_port()
    return {"port": 0, "ai_gateway_network_mode": "host", "ai_gateway_env": {"AIGW_FASTAPI__API_PORT": str(port)},
            "ai_gateway_url": "http://gateway.duo-lab.test:{0}".format(port)}


def measure(size, workdir):
    label = "tsbench-{0}-{1}".format(size, os.getpid())
    with fleet(workdir, "tsbench{0}".format(size), size, label, host_network_gateway) as (instances, gateways):
        inventory = write_inventory(os.path.join(workdir, "inventory-{0}.yml".format(size)),
                                    {gitlab.name: gitlab.host_vars() for gitlab in instances}, gateways,
                                    verify_report_dir=os.path.join(workdir, "reports"),
                                    troubleshoot_report_dir=os.path.join(workdir, "troubleshoot"),
                                    troubleshoot_user="duo-user")
        installed = run_playbook(inventory, "install.yml", "--forks", "10")
        if installed.rc != 0:
            raise SystemExit(installed.output[-3000:])
        before = [gitlab.runner_calls() for gitlab in instances]
        started = time.monotonic()
        result = run_playbook(inventory, "troubleshoot.yml", "--forks", "10")
        seconds = time.monotonic() - started
        if result.rc != 0:
            raise SystemExit(result.output[-3000:])
        calls = [gitlab.runner_calls() - count for gitlab, count in zip(instances, before)]
        return {"size": size, "seconds": seconds, "calls": max(calls)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    lab_up()
    workdir = tempfile.mkdtemp(prefix="duo-tsbench-")
    try:
        rows = [measure(size, workdir) for size in args.sizes]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("| GitLab instances + gateways | troubleshoot.yml (s) | gitlab-rails runner calls per instance |")
    print("|---|---|---|")
    for row in rows:
        print("| {size} | {seconds:.1f} | {calls} |".format(**row))


if __name__ == "__main__":
    main()
