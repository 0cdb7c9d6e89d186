"""Benchmark the playbooks over SSH on the fleet lab: install.yml, its rerun and troubleshoot.yml on N fleet hosts
at --forks 10 (each host runs one GitLab stand-in and one gateway for it), with SSH connections per host,
ssh client runs per host and gitlab-rails runner calls per GitLab host; then, on the smallest size, the same
without pipelining and without ControlPersist.

Usage: .venv/bin/python benchmarks/fleet_bench.py [--sizes 1 3 10] [--variants]
Prints Markdown tables; numbers are from this machine only. Brings its own fleet up and takes it down.
"""

import argparse
import os
import shutil
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab"))

import fleet_hosts as fleet  # noqa: E402
import fleetkit  # noqa: E402
from labkit import lab_up, run_playbook  # noqa: E402

VARIANTS = {
    "pipelining + ControlPersist": {},
    "no pipelining, ControlPersist": {"ansible_pipelining": False},
    "pipelining, no ControlPersist": {"ansible_ssh_args": "-o ControlMaster=no -o ControlPath=none"},
}


def counting_ssh(workdir):
    """An ssh that logs each run (the target is its last-but-one argument's host) before it execs the real one."""
    log = os.path.join(workdir, "ssh-runs.log")
    path = os.path.join(workdir, "ssh")
    with open(path, "w") as handle:
        handle.write('#!/bin/sh\necho "$*" >>{0}\nexec /usr/bin/ssh "$@"\n'.format(log))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path, log


def ssh_runs(log, address):
    if not os.path.exists(log):
        return 0
    with open(log) as handle:
        return sum(1 for line in handle if " {0} ".format(address) in line or "@{0} ".format(address) in line)


def scenario(lab, size, workdir, variant):
    names = ["node{0:02d}".format(index) for index in range(1, size + 1)]
    gitlabs, gateways, instances = {}, {}, []
    for name in names:
        instance = lab.gitlab(name, "gitlab-" + name, "18.2.1-ee")
        instances.append((name, instance))
        gitlabs["gitlab-" + name] = instance.host_vars()
        gateways[lab.hosts[name].fqdn] = lab.gateway_vars(name, "gitlab-" + name)
    ssh_path, ssh_log = counting_ssh(workdir)
    connection = fleetkit.connection_vars(ssh_executable=ssh_path)
    connection.update(VARIANTS[variant])
    common = fleetkit.common_vars(os.path.join(workdir, "reports"))
    common.update(lab.prepare_vars(), verify_run_rake=False, troubleshoot_run_rake=False)
    inventory = fleetkit.write_inventory(os.path.join(workdir, "inventory.yml"), gitlabs, gateways,
                                         connection=connection, **common)
    return inventory, instances, ssh_log


def measure(lab, size, workdir, variant):
    inventory, instances, ssh_log = scenario(lab, size, workdir, variant)
    # Once per machine: gitlab-nodeNN and nodeNN are one host, and two apt runs there would fight for its lock.
    prepared = run_playbook(inventory, "prepare_hosts.yml", "--forks", "10", "-e", "prepare_hosts_targets=ai_gateway")
    if prepared.rc != 0:
        raise SystemExit("prepare_hosts failed:\n" + prepared.output[-3000:])
    row = {"size": size, "variant": variant}
    for step, playbook in (("first", "install.yml"), ("rerun", "install.yml"), ("troubleshoot", "troubleshoot.yml")):
        if os.path.exists(ssh_log):
            os.remove(ssh_log)
        fleet.stop_ssh_masters()  # every step starts without a master, as a new ansible-playbook run does
        accepted = {name: lab.ssh_connections(name) for name, _instance in instances}
        calls = {name: instance.runner_calls() for name, instance in instances}
        started = time.monotonic()
        result = run_playbook(inventory, playbook, "--forks", "10")
        row[step] = time.monotonic() - started
        if result.rc != 0:
            raise SystemExit("{0} failed ({1} hosts, {2}):\n{3}".format(step, size, variant, result.output[-3000:]))
        if step == "rerun" and result.changed():
            raise SystemExit("rerun changed {0} things".format(result.changed()))
        row[step + "_connections"] = max(lab.ssh_connections(name) - accepted[name] for name, _instance in instances)
        row[step + "_ssh_runs"] = max(ssh_runs(ssh_log, lab.hosts[name].address) for name, _instance in instances)
        row[step + "_runner"] = max(instance.runner_calls() - calls[name] for name, instance in instances)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--variants", action="store_true", help="also without pipelining / ControlPersist")
    args = parser.parse_args()
    lab_up()
    rows = []
    for size in args.sizes:
        variants = list(VARIANTS) if args.variants and size == min(args.sizes) else list(VARIANTS)[:1]
        for variant in variants:
            workdir = tempfile.mkdtemp(prefix="duo-fleet-bench-")
            try:
                rows.append(fleetkit.with_fleet(size, lambda lab, s=size, v=variant, w=workdir: measure(lab, s, w, v)))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            print(rows[-1], flush=True)
    print("\n| hosts | connection | install (s) | rerun (s) | rerun / first | troubleshoot (s) | "
          "SSH connections per host (install / rerun / troubleshoot) | ssh runs per host (install / rerun / "
          "troubleshoot) | runner calls per GitLab host (install / troubleshoot) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| {size} | {variant} | {first:.1f} | {rerun:.1f} | {ratio:.2f} | {troubleshoot:.1f} | "
              "{first_connections} / {rerun_connections} / {troubleshoot_connections} | "
              "{first_ssh_runs} / {rerun_ssh_runs} / {troubleshoot_ssh_runs} | "
              "{first_runner} / {troubleshoot_runner} |".format(ratio=row["rerun"] / row["first"], **row))


if __name__ == "__main__":
    main()
