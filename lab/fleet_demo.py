"""demo.sh --fleet: a fleet of separate hosts (lab/fleet_hosts.py), two GitLab instances at different versions
each served by a gateway on another host, prepared, installed and troubleshot over SSH; prints both summaries.

Each playbook's full output goes to duo-reports/fleet/logs/PLAYBOOK.log; the screen gets one line per playbook
(its time and what it changed per host) and, when one fails, the end of its log. Options after --fleet go to
ansible-playbook; -v (or more) also streams the playbooks' output. The fleet is taken down at the end, also on
a failure, Ctrl-C or SIGTERM (DUO_FLEET_KEEP=1 keeps it for a look around: lab/lab.sh fleet down)."""

import os
import signal
import subprocess
import sys
import time

import fleet_hosts as fleet
import fleetkit
from labkit import REPO, VENV_BIN, PlayResult, ansible_env

REPORTS = os.path.join(REPO, "duo-reports", "fleet")
LOGS = os.path.join(REPORTS, "logs")
SUMMARIES = (("Install", "install/install-summary.md"), ("Troubleshooting", "troubleshoot/fleet.md"))


class Interrupted(Exception):
    """SIGTERM or SIGHUP: leave through the same clean-up as Ctrl-C."""


def interrupted(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def say(message):
    print(message, flush=True)


def recap_line(result):
    """'host: changed=N, ...' for every host of the PLAY RECAP (failed or unreachable ones named as such)."""
    parts = []
    for host, counts in sorted(result.recap().items()):
        if host == "localhost":
            continue
        state = "changed={0}".format(counts.get("changed", 0))
        for bad in ("failed", "unreachable"):
            if counts.get(bad):
                state += " {0}={1}".format(bad, counts[bad])
        parts.append("{0} {1}".format(host.split(".")[0], state))
    return ", ".join(parts)


def stop(process):
    """Interrupt ansible-playbook as Ctrl-C would (it stops its workers), then kill it if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def play(inventory, playbook, args):
    """One playbook; its output in LOGS (streamed too with -v). Raises SystemExit with the log's end on failure."""
    log = os.path.join(LOGS, playbook.replace(".yml", ".log"))
    stream = any(arg.startswith("-v") for arg in args)
    command = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory,
               os.path.join(REPO, "playbooks", playbook)] + list(args)
    say("--- {0} (log: {1})".format(playbook, os.path.relpath(log, REPO)))
    started = time.monotonic()
    lines = []
    with open(log, "w") as handle:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=ansible_env(), cwd=REPO)
        try:
            for line in process.stdout:
                handle.write(line)
                lines.append(line)
                if stream:
                    sys.stdout.write(line)
            process.wait()
        except BaseException:
            stop(process)  # before the fleet goes: a play left running would fail on vanished hosts
            raise
    result = PlayResult(subprocess.CompletedProcess(command, process.returncode, "".join(lines), ""))
    seconds = time.monotonic() - started
    if result.rc != 0:
        say("".join(lines[-40:]))
        raise SystemExit("{0} failed after {1:.0f} s (rc {2}); full output in {3}".format(
            playbook, seconds, result.rc, log))
    say("    done in {0:.0f} s: {1}".format(seconds, recap_line(result)))


def main(args):
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)
    if fleet.load_state():
        fleet.down()
    try:
        say("=== Bringing the fleet up: node01-node03 (Docker hosts), sd01 (systemd), air01 (air-gapped)")
        fleet.up(3)
        lab = fleetkit.FleetLab()
        os.makedirs(LOGS, exist_ok=True)
        inventory, _gitlabs = fleetkit.two_instances(lab, REPORTS, os.path.join(fleet.FLEET, "inventory.yml"))
        say("\n=== Two GitLab instances: gitlab-a 18.2.1-ee on node01 (gateway on node03, NGINX in a container, "
            "ACME certificate), gitlab-b 18.3.0-ee on node02 (gateway on sd01, NGINX under systemd, fleet CA "
            "certificate); over SSH as {0} with sudo".format(fleet.LOGIN_USER))
        for playbook in ("prepare_hosts.yml", "install.yml", "troubleshoot.yml"):
            play(inventory, playbook, args)
        for title, summary in SUMMARIES:
            path = os.path.join(REPORTS, summary)
            say("\n=== {0} summary ({1})\n".format(title, os.path.relpath(path, REPO)))
            with open(path) as handle:
                say(handle.read().rstrip())
    except (KeyboardInterrupt, Interrupted) as error:
        say("\ninterrupted ({0}): taking the fleet down".format(str(error) or "Ctrl-C"))
        return 130
    finally:
        if os.environ.get("DUO_FLEET_KEEP") == "1":
            say("\nthe fleet stays up (DUO_FLEET_KEEP=1); inventory {0}; take it down with: "
                "lab/lab.sh fleet down".format(os.path.join(fleet.FLEET, "inventory.yml")))
        else:
            say("")
            # Ignore a second Ctrl-C (or SIGTERM) while tearing down: a half-removed fleet is worse than a slow exit.
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
            fleet.down()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
