"""Benchmark playbooks/upgrade.yml on the fleet lab: what users see during an upgrade, and how long a fleet takes.

traffic  One GitLab stand-in (node01, given node02's URL) served by two gateways: node02 behind NGINX in a
         container (ACME), node03 without a proxy (published port 5052). A poller at 20 requests a second
         (lab/traffic.py) runs through NGINX on node02 and straight to node03's port during one upgrade.yml
         (18.2.10 -> 18.3.0). A 20-second stream starts through NGINX when the new gateway appears beside the old
         one (just before traffic moves to it), and one straight to node03 when the play announces node03's in-place
         swap (its next task pulls, stops the old container and starts the new one). Then GitLab's documented
         procedure (lab/manual_upgrade.py: stop, rm, pull, run) on the same two gateways to 18.10.0, measured the
         same way, the stream started one second before the stop and the poll going on 10 s after the run.
         A 10-second poll with nothing happening gives the normal longest gap for comparison. --rounds N repeats
         it all on a new fleet each time.
serial   N gateways without a proxy (node01..nodeN, in-place swap) serving one GitLab stand-in on node01 (given
         node01's gateway URL, as it would be a load balancer's): upgrade.yml wall time at each -e upgrade_serial,
         --forks 10, each run from a cold start (no SSH master), one GitLab minor further each time (18.3.0,
         18.10.0, 19.2.0); then a rerun that changes nothing.

Usage: .venv/bin/python benchmarks/upgrade_bench.py [--part traffic|serial|all] [--rounds 1] [--size 10]
                                                     [--serials 1 5 10]
Each fleet is brought up and taken down by the script, whatever happens (run it under the fleet's lock).
Prints one JSON line per measurement, then Markdown tables; numbers are from this machine only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab"))

import fleet_hosts as fleet  # noqa: E402
import fleetkit  # noqa: E402
from labkit import GATEWAY_REPOSITORY, PlayResult, lab_up, run_playbook, start_playbook  # noqa: E402
from manual_upgrade import documented_upgrade  # noqa: E402
from traffic import Poller, Stream  # noqa: E402

GATEWAY = "gitlab-ai-gateway"
SURGE = GATEWAY + "-surge"
RATE = 20
STREAM_SECONDS = 20
AUTH = {"Authorization": "Bearer upgrade-bench"}
# GitLab versions the serial runs move the instance to, one per run (the lab registry's gateway releases).
VERSIONS = ("18.3.0-ee", "18.10.0-ee", "19.2.0-ee")


def say(message):
    print("[upgrade_bench] " + message, file=sys.stderr, flush=True)


def wait_until(check, seconds, process=None):
    """True once check() holds; False after ``seconds`` or when ``process`` ended first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        if process is not None and process.poll() is not None:
            return False
        time.sleep(0.2)
    return False


# upgrade.yml's plays by what they do (a play with serial: is printed once per batch).
PHASES = {"Check the variables": "checks and plan", "Learn each GitLab": "checks and plan",
          "Plan each gateway": "checks and plan", "Upgrade pools": "upgrade", "Upgrade the other": "upgrade",
          "Report the fleet": "report"}


class WatchedPlay:
    """ansible-playbook in the background, its output read as it comes: ``reached(text)`` says whether a line
    containing ``text`` (a task's name) has been printed; ``phases()`` how long each kind of play took."""

    def __init__(self, inventory, playbook, *args):
        self.started = time.monotonic()
        self.process = start_playbook(inventory, playbook, *args, env={"PYTHONUNBUFFERED": "1"})
        self.lines = []
        self.plays = []  # (seconds since the start, play name or "PLAY RECAP")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("PLAY"):
                self.plays.append((time.monotonic() - self.started, line.split("[", 1)[-1].split("]", 1)[0]))

    def phases(self):
        """{"start-up": seconds before the first play, phase (PHASES): seconds}; ends at PLAY RECAP."""
        times = {"start-up": round(self.plays[0][0], 1) if self.plays else None}
        for (began, name), (ended, _next) in zip(self.plays, self.plays[1:]):
            phase = next((label for prefix, label in PHASES.items() if name.startswith(prefix)), name)
            times[phase] = round(times.get(phase, 0) + ended - began, 1)
        return times

    def reached(self, text):
        return any(text in line for line in list(self.lines))

    def finish(self, timeout=900):
        self.process.wait(timeout)
        self._reader.join(30)
        return PlayResult(subprocess.CompletedProcess(self.process.args, self.process.returncode,
                                                      "".join(self.lines), ""))


def containers(lab, host):
    return {container.name: container for container in lab.docker(host).containers.list(all=True)}


def inventory_for(lab, workdir, gitlab, gateways, gitlab_url):
    """Several gateways serve the one instance: GitLab is given ``gitlab_url`` (as it would be a load balancer's)."""
    common = fleetkit.common_vars(os.path.join(workdir, "reports"))
    common.update(lab.prepare_vars(), verify_run_rake=False, troubleshoot_run_rake=False)
    gitlab_vars = dict(gitlab.host_vars(), gitlab_settings_ai_gateway_url=gitlab_url)
    return fleetkit.write_inventory(os.path.join(workdir, "inventory.yml"), {gitlab.name: gitlab_vars},
                                    gateways, **common)


def failed(what, result):
    """Stop with the end of the play's output; the whole of it stays in the temporary directory."""
    log = os.path.join(tempfile.gettempdir(), "upgrade_bench-failed.log")
    with open(log, "w") as handle:
        handle.write(result.output)
    raise SystemExit("{0} failed (whole output: {1}):\n{2}".format(what, log, result.output[-4000:]))


def play(inventory, playbook, *args):
    result = run_playbook(inventory, playbook, *args)
    if result.rc != 0:
        failed(playbook, result)
    return result


def report_rows(workdir):
    with open(os.path.join(workdir, "reports", "upgrade", "upgrade.json")) as handle:
        return json.load(handle)["rows"]


def poll_row(what, path, seen, stream=None, seconds=None, extra=None):
    """One line of the traffic table from a PollResult (and a StreamResult)."""
    row = {"what": what, "path": path, "sent": seen.sent, "failed": seen.failed,
           "longest_gap": seen.longest_gap, "first_errors": [error["error"][:120] for error in seen.errors[:2]],
           "answering_at_end": bool(seen.per_second) and seen.per_second[-1]["failed"] == 0
           and seen.per_second[-1]["ok"] > 0}
    if stream is not None:
        row["stream"] = ("intact ({0:.1f} s)" if stream.intact else "cut at {0:.1f} s ({1} of {2} chunks)").format(
            stream.seconds, stream.received, stream.chunks)
        row["stream_error"] = stream.error
    if seconds is not None:
        row["seconds"] = round(seconds, 1)
    row.update(extra or {})
    print(json.dumps(row), flush=True)
    return row


def traffic(lab, workdir):
    gitlab = lab.gitlab("node01", "gitlab-t", "18.2.1-ee")
    proxied, direct = lab.hosts["node02"], lab.hosts["node03"]
    gateways = {proxied.fqdn: lab.gateway_vars("node02", gitlab.name, **lab.container_proxy_vars("node02")),
                direct.fqdn: lab.gateway_vars("node03", gitlab.name)}
    inventory = inventory_for(lab, workdir, gitlab, gateways, "https://" + proxied.fqdn)
    say("prepare_hosts.yml and install.yml (GitLab 18.2.1-ee)")
    play(inventory, "prepare_hosts.yml")
    play(inventory, "install.yml")
    ca = os.path.join(fleet.CA_DIR, "trusted.pem")
    urls = {"node02": "https://" + proxied.fqdn, "node03": "http://{0}:5052".format(direct.fqdn)}

    def poller(host, seconds=600):
        return Poller(urls[host] + "/monitoring/healthz", rate=RATE, max_seconds=seconds, verify=ca, timeout=5).start()

    def stream(host):
        return Stream(urls[host], seconds=STREAM_SECONDS, headers=AUTH, verify=ca).start()

    rows = []
    say("baseline: 10 s of polling, nothing happening")
    polls = {host: poller(host, seconds=10) for host in urls}
    baseline = {host: poll.wait(30) for host, poll in polls.items()}
    rows.append(poll_row("baseline (nothing happening)", "through NGINX", baseline["node02"]))
    rows.append(poll_row("baseline (nothing happening)", "direct to the port", baseline["node03"]))

    say("upgrade.yml: GitLab 18.2.1 -> 18.3.0")
    gitlab.set_version("18.3.0-ee")
    polls = {host: poller(host) for host in urls}
    time.sleep(1)
    started = time.monotonic()
    run = WatchedPlay(inventory, "upgrade.yml")
    streams = {}
    # The new gateway beside the old one: traffic moves to it once it is healthy.
    if wait_until(lambda: SURGE in containers(lab, "node02"), 300, run.process):
        streams["node02"] = stream("node02")
    # node03's in-place swap begins: its next task pulls the new release, stops the old container and starts it.
    if wait_until(lambda: run.reached("Note the step - replace the gateway in place"), 300, run.process):
        streams["node03"] = stream("node03")
    result = run.finish()
    seconds = time.monotonic() - started
    streamed = {host: item.wait(90) for host, item in streams.items()}
    time.sleep(1)
    seen = {host: poll.stop() for host, poll in polls.items()}
    if result.rc != 0:
        failed("upgrade.yml", result)
    results = {row["host"].split(".")[0]: row["result"] for row in report_rows(workdir)}
    rows.append(poll_row("upgrade.yml (NGINX: new gateway beside the old, reload, drain)", "through NGINX",
                         seen["node02"], streamed.get("node02"), seconds, {"result": results.get("node02")}))
    rows.append(poll_row("upgrade.yml (no proxy: pull first, in-place swap)", "direct to the port",
                         seen["node03"], streamed.get("node03"), seconds, {"result": results.get("node03")}))

    image = "{0}/{1}:self-hosted-v18.10.0-ee".format(fleet.REGISTRY, GATEWAY_REPOSITORY)
    for host, path in (("node02", "through NGINX"), ("node03", "direct to the port")):
        say("documented stop, rm, pull, run on " + host)
        poll = poller(host, seconds=120)
        time.sleep(1)
        in_flight = stream(host)
        time.sleep(1)
        done = documented_upgrade(lab.docker(host), GATEWAY, image, pull=True)
        time.sleep(10)  # does the gateway answer again, and through NGINX?
        streamed = in_flight.wait(90)
        seen = poll.stop()
        steps = ", ".join("{step} {seconds:.1f}".format(**step) for step in done["steps"])
        rows.append(poll_row("documented stop, rm, pull, run", path, seen, streamed, done["seconds"],
                             {"steps": steps}))
    return rows


def serial(lab, size, serials, workdir):
    names = ["node{0:02d}".format(index) for index in range(1, size + 1)]
    gitlab = lab.gitlab("node01", "gitlab-s", "18.2.1-ee")
    gateways = {lab.hosts[name].fqdn: lab.gateway_vars(name, gitlab.name) for name in names}
    inventory = inventory_for(lab, workdir, gitlab, gateways, "http://{0}:5052".format(lab.hosts["node01"].fqdn))
    say("prepare_hosts.yml and install.yml on {0} gateways".format(size))
    # Once per machine: gitlab-s lives on node01, a gateway host too (two apt runs there would fight for its lock).
    play(inventory, "prepare_hosts.yml", "--forks", "10", "-e", "prepare_hosts_targets=ai_gateway")
    play(inventory, "install.yml", "--forks", "10")
    rows = []
    runs = list(zip(serials, VERSIONS)) + [(max(serials), None)]
    for count, version in runs:
        if version:
            gitlab.set_version(version)
        say("upgrade.yml, {0} gateways, upgrade_serial={1}, GitLab {2}".format(size, count, version or "unchanged"))
        fleet.stop_ssh_masters()  # a new ansible-playbook run starts without a master
        started = time.monotonic()
        run = WatchedPlay(inventory, "upgrade.yml", "--forks", "10", "-e", "upgrade_serial={0}".format(count))
        result = run.finish()
        seconds = time.monotonic() - started
        if result.rc != 0:
            failed("upgrade.yml (serial {0})".format(count), result)
        outcomes = [row["result"] for row in report_rows(workdir)]
        durations = [float(row["duration_s"]) for row in report_rows(workdir)]
        expected = "upgraded" if version else "already_current"
        if outcomes != [expected] * size:
            raise SystemExit("serial {0}: results {1}, expected {2}".format(count, outcomes, expected))
        row = {"gateways": size, "serial": count, "gitlab": version or "unchanged (rerun)",
               "seconds": round(seconds, 1),
               "result": "{0} x {1}".format(size, expected), "changed": result.changed(),
               "host_seconds_max": max(durations), "host_seconds_mean": round(sum(durations) / len(durations), 1),
               "phases": run.phases()}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def print_traffic(rows):
    print("\n| round | what | polled | requests | failed | longest gap (s) | answering at the end | 20-s stream | "
          "seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        cells = [row["round"], row["what"], row["path"], row["sent"], row["failed"], row["longest_gap"],
                 "yes" if row["answering_at_end"] else "no", row.get("stream", "-"), row.get("seconds", "-")]
        print("| " + " | ".join(str(cell) for cell in cells) + " |")


def print_serial(rows):
    print("\n| gateways | upgrade_serial | GitLab moved to | upgrade.yml (s) | start-up / checks and plan / upgrade / "
          "report (s) | per host, mean / max (s) | result |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        phases = " / ".join(str(row["phases"].get(phase, "-"))
                            for phase in ("start-up", "checks and plan", "upgrade", "report"))
        print("| {gateways} | {serial} | {gitlab} | {seconds} | {0} | {host_seconds_mean} / {host_seconds_max} | "
              "{result}, changed={changed} |".format(phases, **row))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["traffic", "serial", "all"], default="all")
    parser.add_argument("--rounds", type=int, default=1, help="traffic part: times, each on a new fleet")
    parser.add_argument("--size", type=int, default=10, help="gateways of the serial part")
    parser.add_argument("--serials", type=int, nargs="+", default=[1, 5, 10], help="at most 3 (one per release)")
    args = parser.parse_args()
    if len(args.serials) > len(VERSIONS):
        parser.error("at most {0} serial values: one GitLab release each".format(len(VERSIONS)))
    lab_up()
    traffic_rows, serial_rows = [], []
    for part in (["traffic", "serial"] if args.part == "all" else [args.part]):
        workdir = tempfile.mkdtemp(prefix="duo-upgrade-bench-")
        try:
            if part == "traffic":
                for number in range(1, args.rounds + 1):
                    rows = fleetkit.with_fleet(3, lambda lab, w=workdir: traffic(lab, w))
                    traffic_rows += [dict(row, round=number) for row in rows]
                    shutil.rmtree(os.path.join(workdir, "reports"), ignore_errors=True)
            else:
                serial_rows = fleetkit.with_fleet(
                    args.size, lambda lab, w=workdir: serial(lab, args.size, args.serials, w))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if traffic_rows:
        print_traffic(traffic_rows)
    if serial_rows:
        print_serial(serial_rows)


if __name__ == "__main__":
    main()
