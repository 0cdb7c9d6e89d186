"""Benchmark playbooks/install.yml on the lab: wall time of the first install and of the idempotent rerun
for 1 and for 10 GitLab instances (each with its own gateway container and port), and gitlab-rails runner
invocations per GitLab host (each one costs 30-60 s of Rails boot on a real GitLab).

Usage: .venv/bin/python benchmarks/install_bench.py [--sizes 1 10] [--keep]
Prints a Markdown table; numbers are from this machine only.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab"))

from labkit import fleet, lab_up, run_playbook, write_inventory  # noqa: E402


def measure(size, workdir):
    label = "bench-{0}-{1}".format(size, os.getpid())
    with fleet(workdir, "bench{0}".format(size), size, label) as (instances, gateways):
        inventory = write_inventory(os.path.join(workdir, "inventory-{0}.yml".format(size)),
                                    {gitlab.name: gitlab.host_vars() for gitlab in instances}, gateways,
                                    verify_report_dir=os.path.join(workdir, "reports"))
        timings = []
        for attempt in ("first", "rerun"):
            started = time.monotonic()
            result = run_playbook(inventory, "install.yml", "--forks", "10")
            timings.append(time.monotonic() - started)
            if result.rc != 0:
                raise SystemExit("install failed ({0}, {1} hosts):\n{2}".format(attempt, size, result.output[-3000:]))
            if attempt == "rerun" and result.changed():
                raise SystemExit("rerun changed {0} things".format(result.changed()))
        calls = [gitlab.runner_calls() for gitlab in instances]
        return {"size": size, "first": timings[0], "rerun": timings[1], "runner_calls_per_host": max(calls) / 2.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    lab_up()
    workdir = tempfile.mkdtemp(prefix="duo-bench-")
    rows = []
    try:
        for size in args.sizes:
            rows.append(measure(size, workdir))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("| GitLab instances + gateways | first install (s) | idempotent rerun (s) | rerun / first | "
          "gitlab-rails runner calls per GitLab host per run |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| {size} | {first:.1f} | {rerun:.1f} | {ratio:.2f} | {calls:g} |".format(
            ratio=row["rerun"] / row["first"], calls=row["runner_calls_per_host"], **row))


if __name__ == "__main__":
    main()
