"""Benchmark the playbooks over SSH on the fleet lab: install.yml, its rerun and troubleshoot.yml on N fleet hosts
at --forks 10 (each host runs one GitLab stand-in and one gateway for it), with SSH connections per host,
ssh client runs per host, gitlab-rails runner calls per GitLab host and the CPU seconds spent (by Ansible on the
control node, and by the whole machine, which runs the fleet hosts too); with --variants, each size also
without pipelining and without ControlPersist.

Usage: .venv/bin/python benchmarks/fleet_bench.py [--sizes 1 3 10] [--variants] [--keep]
Prints Markdown tables; numbers are from this machine only. Brings its own fleet up and takes it down.
"""

import argparse
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab"))

import fleet_hosts as fleet  # noqa: E402
import fleetkit  # noqa: E402
from labkit import REPO, VENV_BIN, PlayResult, ansible_env, lab_up  # noqa: E402

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


def machine_busy():
    """CPU seconds this whole machine (control node and every fleet host: they share its 2 CPUs) spent busy."""
    with open("/proc/stat") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - fields[3] - fields[4]) / ticks  # all but idle and iowait


def children_cpu():
    """CPU seconds of this process's finished children (ansible-playbook with its forks and ssh clients)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_playbook(inventory, playbook, log, *args):
    """ansible-playbook, each output line stamped with the seconds since start (written to ``log``), so the
    slowest tasks can be named."""
    command = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory,
               os.path.join(REPO, "playbooks", playbook)] + list(args)
    started = time.monotonic()
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ansible_env(),
                          cwd=REPO) as process:
        for line in process.stdout:
            lines.append("{0:7.2f} {1}".format(time.monotonic() - started, line))
    with open(log, "w") as handle:
        handle.writelines(lines)
    return PlayResult(subprocess.CompletedProcess(command, process.returncode, "".join(line[8:] for line in lines),
                                                  ""))


def slowest_tasks(log, count=5):
    """The ``count`` tasks that took longest (from one TASK line to the next) in a timed_playbook log."""
    marks = []
    with open(log) as handle:
        for line in handle:
            stamp, text = line.lstrip().split(" ", 1)
            if text.startswith(("TASK [", "PLAY [", "PLAY RECAP")):
                marks.append((float(stamp), text.split("]")[0] + "]"))
    spans = [(later[0] - earlier[0], earlier[1]) for earlier, later in zip(marks, marks[1:])]
    return sorted(spans, reverse=True)[:count]


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
    prepared = timed_playbook(inventory, "prepare_hosts.yml", os.path.join(workdir, "prepare.out"), "--forks", "10",
                              "-e", "prepare_hosts_targets=ai_gateway")
    if prepared.rc != 0:
        raise SystemExit("prepare_hosts failed:\n" + prepared.output[-3000:])
    row = {"size": size, "variant": variant}
    previous = "prepare"
    for step, playbook in (("first", "install.yml"), ("rerun", "install.yml"), ("troubleshoot", "troubleshoot.yml")):
        if os.path.exists(ssh_log):
            os.rename(ssh_log, ssh_log + "." + previous)
        fleet.stop_ssh_masters()  # every step starts without a master, as a new ansible-playbook run does
        accepted = {name: lab.ssh_connections(name) for name, _instance in instances}
        calls = {name: instance.runner_calls() for name, instance in instances}
        cpu, busy, started = children_cpu(), machine_busy(), time.monotonic()
        result = timed_playbook(inventory, playbook, os.path.join(workdir, step + ".out"), "--forks", "10")
        row[step] = time.monotonic() - started
        row[step + "_cpu"] = children_cpu() - cpu
        row[step + "_busy"] = machine_busy() - busy
        row[step + "_slowest"] = slowest_tasks(os.path.join(workdir, step + ".out"))
        if result.rc != 0:
            raise SystemExit("{0} failed ({1} hosts, {2}):\n{3}".format(step, size, variant, result.output[-3000:]))
        if step == "rerun" and result.changed():
            raise SystemExit("rerun changed {0} things".format(result.changed()))
        row[step + "_connections"] = max(lab.ssh_connections(name) - accepted[name] for name, _instance in instances)
        row[step + "_ssh_runs"] = max(ssh_runs(ssh_log, lab.hosts[name].address) for name, _instance in instances)
        row[step + "_runner"] = max(instance.runner_calls() - calls[name] for name, instance in instances)
        previous = step
    return row


def with_fleet(size, function):
    """fleetkit.with_fleet, with the time the fleet took to come up in the row."""
    started = time.monotonic()

    def timed(lab):
        up_seconds = time.monotonic() - started
        row = function(lab)
        row["fleet_up"] = up_seconds
        return row

    return fleetkit.with_fleet(size, timed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--variants", action="store_true",
                        help="also without pipelining and without ControlPersist (each size, each on a new fleet)")
    parser.add_argument("--keep", action="store_true", help="keep each run's work directory (inventory, ssh log)")
    args = parser.parse_args()
    lab_up()
    rows = []
    for size in args.sizes:
        variants = list(VARIANTS) if args.variants else list(VARIANTS)[:1]
        for variant in variants:
            workdir = tempfile.mkdtemp(prefix="duo-fleet-bench-")
            try:
                rows.append(with_fleet(size, lambda lab, s=size, v=variant, w=workdir: measure(lab, s, w, v)))
            finally:
                if args.keep:
                    print("kept " + workdir, flush=True)
                else:
                    shutil.rmtree(workdir, ignore_errors=True)
            print({key: value for key, value in rows[-1].items() if not key.endswith("_slowest")}, flush=True)
    print("\n| hosts | connection | fleet up (s) | install (s) | rerun (s) | rerun / first | troubleshoot (s) | "
          "control-node CPU (s) | machine CPU busy (s) | SSH connections per host | ssh runs per host | "
          "runner calls per GitLab host |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        steps = ("first", "rerun", "troubleshoot")
        print("| {size} | {variant} | {fleet_up:.0f} | {first:.1f} | {rerun:.1f} | {ratio:.2f} | {troubleshoot:.1f} | "
              "{cpu} | {busy} | {connections} | {runs} | {runner} |".format(
                  ratio=row["rerun"] / row["first"],
                  cpu=" / ".join("{0:.0f}".format(row[step + "_cpu"]) for step in steps),
                  busy=" / ".join("{0:.0f}".format(row[step + "_busy"]) for step in steps),
                  connections=" / ".join(str(row[step + "_connections"]) for step in steps),
                  runs=" / ".join(str(row[step + "_ssh_runs"]) for step in steps),
                  runner=" / ".join(str(row[step + "_runner"]) for step in steps), **row))
    print("\n(install / rerun / troubleshoot in the last five columns)")
    for row in rows:
        for step in ("first", "rerun", "troubleshoot"):
            print("\nslowest tasks, {0} hosts, {1}, {2}:".format(row["size"], row["variant"], step))
            for seconds, task in row[step + "_slowest"]:
                print("  {0:6.1f} s  {1}".format(seconds, task))


if __name__ == "__main__":
    main()
