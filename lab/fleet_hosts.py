"""The fleet lab: separate Debian 12 hosts on this machine, reached over SSH like real ones.

    fleet_hosts.py up N      N Docker hosts (node01..), one systemd host (sd01), one air-gapped host (air01)
    fleet_hosts.py down      stop every host and remove what the fleet made (the cached root filesystem stays)
    fleet_hosts.py gitlab HOST NAME VERSION PORT
                         a GitLab stand-in on a fleet host (gitlab-rails/gitlab-rake there, API on its address)
    fleet_hosts.py status    the fleet's state as JSON

Design (docs/lab.md, "The fleet"): one base root filesystem is built once with debootstrap and cached in
.lab/fleet-cache; every host mounts it read-only under an overlay of its own. A Docker host is a network
namespace + mount, UTS and PID namespace + pivot_root running its own dockerd and sshd (Docker cannot run
containers inside systemd-nspawn here). The systemd host is systemd-nspawn --boot (systemd as PID 1, sshd,
NGINX under a unit) on a network namespace it shares with an engine-only chroot, whose socket it is given:
it has no Docker engine of its own. Hosts sit on one lab bridge; the air-gapped host has only a veth to the
control node and no route to the registry. Killing a host's first process ends its PID namespace, and with
it every process and mount the host made.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = os.environ.get("DUO_LAB_DIR") or os.path.join(REPO, ".lab")
CACHE = os.path.join(LAB, "fleet-cache")
BASE = os.path.join(CACHE, "rootfs")
APT_REPO = os.path.join(CACHE, "apt")
FLEET = os.path.join(LAB, "fleet")
STATE = os.path.join(FLEET, "state.json")
SSH_DIR = os.path.join(FLEET, "ssh")
CONTROL_PATH_DIR = os.path.join(SSH_DIR, "cp")

# One lab subnet: the bridge takes the lower half, point-to-point links to air-gapped hosts the upper half.
SUBNET = "10.213.0"
BRIDGE = "duofleet0"
BRIDGE_ADDRESS = SUBNET + ".1"
AIRGAP_CONTROL_ADDRESS = SUBNET + ".129"
AIRGAP_HOST_ADDRESS = SUBNET + ".130"
DOMAIN = "duo-fleet.test"
REGISTRY = BRIDGE_ADDRESS + ":5000"
APT_PORT = 8081
UPSTREAM_REGISTRY = "http://127.0.0.1:" + os.environ.get("DUO_LAB_REGISTRY_PORT", "5000")
LOGIN_USER = "ops"
CA_DIR = os.path.join(FLEET, "ca")
ACME_DIRECTORY = "https://{0}:14000/dir".format(BRIDGE_ADDRESS)
HOSTS_MARK = "# gitlab_duo.self_hosted fleet lab"

# Bump when the recipe below changes: the cached root filesystem is rebuilt.
ROOTFS_RECIPE = "3"
BASE_PACKAGES = ("systemd systemd-sysv dbus openssh-server python3 iproute2 sudo docker.io ruby ca-certificates "
                 "procps").split()
# What the targets get from prepare_hosts.yml, served from the lab's apt repository on the bridge.
# python3-apt: Ansible's apt module installs it first when it is missing.
PREPARED_PACKAGES = "python3-apt python3-docker python3-requests python3-cryptography python3-acme nginx".split()
CONTROL_PACKAGES = "debootstrap systemd-container apt-utils openssh-client docker-registry dnsmasq-base".split()


def say(message):
    print("[fleet] " + message, flush=True)


def run(command, check=True, **kwargs):
    """subprocess.run that raises on failure unless told otherwise."""
    return subprocess.run(command, check=check, **kwargs)


def debian_mirror():
    """The Debian archive URL this machine's apt uses (never written into the repository)."""
    with open("/etc/apt/sources.list.d/debian.sources") as handle:
        for line in handle:
            if line.startswith("URIs:"):
                return line.split()[1]
    raise SystemExit("no URIs: line in /etc/apt/sources.list.d/debian.sources")


def install_control_packages():
    missing = [package for package in CONTROL_PACKAGES
               if run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True,
                      check=False).stdout != "install ok installed"]
    if missing:
        say("installing Debian packages on the control node: " + " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
        run(["apt-get", "install", "-y", "-qq"] + missing, env=env, stdout=subprocess.DEVNULL)


# --- the cached base root filesystem -------------------------------------------------------------------

SETUP_UNIT = """[Unit]
Description=Fleet lab: this host's identity, login user and keys (from /etc/duo-fleet, bound in by the lab)
ConditionPathExists=/etc/duo-fleet/setup.sh
Before=ssh.service
DefaultDependencies=no
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/bin/sh /etc/duo-fleet/setup.sh

[Install]
WantedBy=multi-user.target
"""


def build_rootfs():
    """debootstrap once (the slow step); hosts then only mount it."""
    stamp = os.path.join(CACHE, "rootfs.recipe")
    if os.path.exists(stamp) and open(stamp).read().strip() == ROOTFS_RECIPE:
        return
    say("building the fleet's Debian 12 root filesystem (cached in {0})".format(CACHE))
    shutil.rmtree(CACHE, ignore_errors=True)
    os.makedirs(CACHE)
    building = BASE + ".building"
    run(["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES), "bookworm", building,
         debian_mirror()], stdout=subprocess.DEVNULL)
    # Hosts only reach the lab: their one apt source (the lab repository) is written by each host's setup.sh.
    # Each host gets its own SSH host key.
    os.remove(os.path.join(building, "etc/apt/sources.list"))
    run(["sh", "-c", "rm -f {0}/etc/ssh/ssh_host_* {0}/var/lib/apt/lists/*_Packages* "
                     "{0}/var/cache/apt/archives/*.deb".format(building)])
    with open(os.path.join(building, "etc/systemd/system/duo-fleet-setup.service"), "w") as handle:
        handle.write(SETUP_UNIT)
    run(["systemd-nspawn", "-q", "-D", building, "--register=no", "--keep-unit", "sh", "-c",
         "systemctl enable duo-fleet-setup.service >/dev/null 2>&1; "
         "systemctl mask docker.service docker.socket containerd.service >/dev/null 2>&1; true"])
    os.rename(building, BASE)
    with open(stamp, "w") as handle:
        handle.write(ROOTFS_RECIPE + "\n")


def build_apt_repo():
    """The packages prepare_hosts.yml installs, with every dependency the base lacks, downloaded (by apt in a
    throw-away overlay of the base) into a flat repository the hosts reach on the lab link."""
    stamp = os.path.join(CACHE, "apt.packages")
    wanted = " ".join(sorted(PREPARED_PACKAGES))
    if os.path.exists(stamp) and open(stamp).read().strip() == wanted:
        return
    say("downloading the packages prepare_hosts.yml installs: " + wanted)
    shutil.rmtree(APT_REPO, ignore_errors=True)
    os.makedirs(APT_REPO)
    script = ("echo 'deb {0} bookworm main' >/etc/apt/sources.list.d/download.list && apt-get update -qq && "
              "apt-get install -y -qq --download-only {1}").format(debian_mirror(), wanted)
    run(["systemd-nspawn", "-q", "-D", BASE, "--volatile=overlay", "--register=no", "--keep-unit",
         "--bind=" + APT_REPO + ":/var/cache/apt/archives", "sh", "-c", script], stdout=subprocess.DEVNULL)
    for name in ("lock", "partial"):
        path = os.path.join(APT_REPO, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    with open(os.path.join(APT_REPO, "Packages"), "w") as handle:
        run(["apt-ftparchive", "packages", "."], cwd=APT_REPO, stdout=handle)
    with open(stamp, "w") as handle:
        handle.write(wanted + "\n")


# --- networks -------------------------------------------------------------------------------------------

def netns_exists(name):
    return os.path.exists("/run/netns/" + name)


def ip(*args, netns=None, check=True):
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return run(prefix + list(args), check=check, capture_output=True, text=True)


# Docker on this machine loads br_netfilter and sets FORWARD's policy to DROP, which would drop host-to-host
# traffic on the lab bridge: accept what stays on the bridge (nothing else), and take the rule away at down.
FORWARD_RULE = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-m", "comment", "--comment", "duo-fleet", "-j", "ACCEPT"]


def make_bridge():
    if run(["ip", "link", "show", BRIDGE], capture_output=True, check=False).returncode != 0:
        ip("link", "add", BRIDGE, "type", "bridge")
        ip("addr", "add", BRIDGE_ADDRESS + "/25", "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")
    if run(["iptables", "-C"] + FORWARD_RULE, capture_output=True, check=False).returncode != 0:
        run(["iptables", "-I"] + FORWARD_RULE)


def remove_forward_rule():
    while run(["iptables", "-C"] + FORWARD_RULE, capture_output=True, check=False).returncode == 0:
        run(["iptables", "-D"] + FORWARD_RULE)


def make_netns(name, address, airgapped=False):
    """A network namespace with loopback and one veth: on the bridge, or a point-to-point link for an
    air-gapped host (its only route is that /30: no registry, no other host)."""
    ip("netns", "add", name)
    ip("link", "set", "lo", "up", netns=name)
    outside, inside = "df-" + name, "eth0"
    ip("link", "add", outside, "type", "veth", "peer", "name", "tmp-" + name)
    ip("link", "set", "tmp-" + name, "netns", name)
    ip("link", "set", "tmp-" + name, "name", inside, netns=name)
    if airgapped:
        ip("addr", "add", AIRGAP_CONTROL_ADDRESS + "/30", "dev", outside)
        ip("addr", "add", address + "/30", "dev", inside, netns=name)
    else:
        ip("link", "set", outside, "master", BRIDGE)
        ip("addr", "add", address + "/25", "dev", inside, netns=name)
    ip("link", "set", outside, "up")
    ip("link", "set", inside, "up", netns=name)


# --- hosts ----------------------------------------------------------------------------------------------

class Host:
    """One fleet host as recorded in the state file."""

    def __init__(self, name, kind, address, pids=None, **extra):
        self.name = name
        self.kind = kind  # docker | systemd | airgapped
        self.address = address
        self.pids = pids or {}
        self.extra = extra
        self.dir = os.path.join(FLEET, "hosts", name)

    @property
    def fqdn(self):
        return "{0}.{1}".format(self.name, DOMAIN)

    @property
    def control_address(self):
        """The control node's address as this host reaches it."""
        return AIRGAP_CONTROL_ADDRESS if self.kind == "airgapped" else BRIDGE_ADDRESS

    @property
    def docker_socket(self):
        """This host's Docker engine, from the control node (tests look at what a play did with it)."""
        engine = os.path.join(self.dir, "engine") if self.kind == "systemd" else self.dir
        return "unix://" + os.path.join(engine, "run", "docker.sock")

    def as_dict(self):
        return dict(self.extra, name=self.name, kind=self.kind, address=self.address, pids=self.pids)

    def run(self, command, check=True, **kwargs):
        """A shell command inside this host (its namespaces and root), as root."""
        if self.kind == "systemd":
            leader = self.pids["machine_leader"]
            prefix = ["nsenter", "-t", str(leader), "-m", "-u", "-n", "-p", "-i", "-r", "-w"]
        else:
            prefix = ["nsenter", "-t", str(self.pids["init"]), "-m", "-u", "-n", "-p", "-r", "-w"]
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return run(prefix + ["sh", "-c", command], check=check, **kwargs)


def ns_child(pid):
    """The first child of ``pid`` (unshare's child is PID 1 of the host's PID namespace)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open("/proc/{0}/task/{0}/children".format(pid)) as handle:
                children = handle.read().split()
        except FileNotFoundError:
            raise SystemExit("process {0} ended early".format(pid))
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise SystemExit("process {0} started no child".format(pid))


# Every process of a host (and each container its engine runs: --cgroup-parent) is counted in a pids cgroup
# named after the host, so that tear-down can find and kill whatever a PID namespace did not take with it.
PIDS_CGROUPS = "/sys/fs/cgroup/pids"
CGROUP_PREFIX = "duo-fleet-"


def enter_cgroup(label):
    """For Popen(preexec_fn=...): the new process (and all it forks) joins the host's pids cgroup."""
    path = os.path.join(PIDS_CGROUPS, CGROUP_PREFIX + label)
    os.makedirs(path, exist_ok=True)

    def join():
        with open(os.path.join(path, "cgroup.procs"), "w") as handle:
            handle.write(str(os.getpid()))
    return join


def cgroup_processes():
    """PIDs still in the fleet's pids cgroups."""
    found = []
    if not os.path.isdir(PIDS_CGROUPS):
        return found
    for name in os.listdir(PIDS_CGROUPS):
        if name.startswith(CGROUP_PREFIX):
            for path, _dirs, files in os.walk(os.path.join(PIDS_CGROUPS, name)):
                if "cgroup.procs" in files:
                    with open(os.path.join(path, "cgroup.procs")) as handle:
                        found += [int(pid) for pid in handle.read().split()]
    return found


def write_setup(host, all_hosts, public_key):
    """/etc/duo-fleet in the host: setup.sh makes the host's identity, login user, keys, names, apt source."""
    setup = os.path.join(host.dir, "setup")
    os.makedirs(setup, exist_ok=True)
    key = os.path.join(setup, "ssh_host_ed25519_key")
    if not os.path.exists(key):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.fqdn, "-f", key])
    names = ["127.0.0.1 localhost", "{0} {1} {2}".format(host.address, host.fqdn, host.name),
             "{0} control.{1} registry.{1}".format(host.control_address, DOMAIN)]
    if host.kind != "airgapped":  # an air-gapped host knows no other host
        names += ["{0} {1}.{2} {1}".format(other.address, other.name, DOMAIN)
                  for other in all_hosts if other.kind != "airgapped" and other.name != host.name]
    with open(os.path.join(setup, "hosts"), "w") as handle:
        handle.write("\n".join(names) + "\n")
    with open(os.path.join(setup, "authorized_keys"), "w") as handle:
        handle.write(public_key)
    script = """#!/bin/sh
# Made by lab/fleet_hosts.py for {name}: identity, login user with sudo, SSH keys, names, apt source.
set -e
here=/etc/duo-fleet
echo {name} >/etc/hostname
hostname {name} 2>/dev/null || true
cp $here/hosts /etc/hosts
id {user} >/dev/null 2>&1 || useradd -m -s /bin/bash {user}
# No password at all (key only); a locked one ("!") makes sshd without PAM refuse the account.
usermod -p '*' {user}
install -d -m 700 -o {user} -g {user} /home/{user}/.ssh
install -m 600 -o {user} -g {user} $here/authorized_keys /home/{user}/.ssh/authorized_keys
echo '{user} ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/{user}
chmod 440 /etc/sudoers.d/{user}
install -m 600 $here/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -m 644 $here/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ed25519_key.pub
cat >/etc/ssh/sshd_config.d/duo-fleet.conf <<CONF
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM {pam}
LogLevel VERBOSE
CONF
mkdir -p /run/sshd
echo 'deb [trusted=yes] http://{control}:{apt_port}/ ./' >/etc/apt/sources.list.d/duo-fleet.list
# The lab's DNS (containers on Docker networks do not read /etc/hosts); none for an air-gapped host.
echo 'nameserver {dns}' >/etc/resolv.conf
{extra}
""".format(name=host.name, user=LOGIN_USER, control=host.control_address, apt_port=APT_PORT,
           pam="yes" if host.kind == "systemd" else "no",
           dns=BRIDGE_ADDRESS if host.kind != "airgapped" else "127.0.0.1",
           extra=("ln -sfn /run/duo-engine/docker.sock /run/docker.sock" if host.kind == "systemd" else ""))
    with open(os.path.join(setup, "setup.sh"), "w") as handle:
        handle.write(script)


CHROOT_INIT = r"""
set -e
R={root}
mount --make-rprivate /
mount -t overlay overlay -o lowerdir={base},upperdir={upper},workdir={work} $R
mount --rbind /sys $R/sys
mount --rbind /dev $R/dev
mount -t proc proc $R/proc
mount --bind {run} $R/run
mkdir -p $R/etc/duo-fleet && mount --bind -o ro {setup} $R/etc/duo-fleet
mkdir -p $R/var/lib/docker && mount --bind {docker_root} $R/var/lib/docker
# pivot_root, not chroot: the host's mount namespace must have its own root at its base, or every
# namespace cloned from it (docker exec joins the container's) would start at this machine's root.
mkdir -p $R/.machine && cd $R && pivot_root . .machine && umount -l /.machine && rmdir /.machine
cd /
hostname {name}
sh /etc/duo-fleet/setup.sh
{services}
# PID 1 of this host: reap orphans until the lab kills it (which ends every process of the host).
trap '' TERM
while :; do wait; sleep 1; done
"""

SSHD = "/usr/sbin/sshd -D -e >>/run/sshd.log 2>&1 &"
# Its own engine and image store; registry over the lab link only. The host's own network namespace
# holds its docker0 and NAT, so containers reach the GitLab hosts as the host does, and no further.
DOCKERD = ("dockerd -H unix:///run/docker.sock --insecure-registry {registry} --cgroup-parent duo-fleet-{name} "
           ">>/run/dockerd.log 2>&1 &")


def start_chroot(host, netns, sshd=True, dockerd=True, label=None):
    """A chroot host (or engine) in ``netns``: overlay root, own /run, own image store; returns unshare's PID."""
    home = os.path.join(host.dir, label) if label else host.dir
    label = host.name + "-" + label if label else host.name
    paths = {name: os.path.join(home, name) for name in ("root", "upper", "work", "run", "docker", "logs")}
    for path in paths.values():
        os.makedirs(path, exist_ok=True)
    services = ([SSHD] if sshd else []) + ([DOCKERD] if dockerd else [])
    script = CHROOT_INIT.format(root=paths["root"], base=BASE, upper=paths["upper"], work=paths["work"],
                                run=paths["run"], setup=os.path.join(host.dir, "setup"),
                                docker_root=paths["docker"], name=host.name,
                                services="\n".join(services).format(registry=REGISTRY, name=label))
    with open(os.path.join(paths["logs"], "init.log"), "ab") as log:
        process = subprocess.Popen(
            ["nsenter", "--net=/run/netns/" + netns, "unshare", "--mount", "--uts", "--pid", "--fork",
             "--kill-child", "sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, preexec_fn=enter_cgroup(label))
    return process.pid


def start_machine(host):
    """systemd-nspawn --boot on the host's network namespace; writes go to a tmpfs over the base."""
    logs = os.path.join(host.dir, "logs")
    os.makedirs(logs, exist_ok=True)
    with open(os.path.join(logs, "nspawn.log"), "ab") as log:
        process = subprocess.Popen(
            ["systemd-nspawn", "-q", "--boot", "-D", BASE, "--volatile=overlay", "--register=no", "--keep-unit",
             "--machine=" + host.name, "--hostname=" + host.name, "--console=passive",
             "--network-namespace-path=/run/netns/" + host.name,
             "--bind-ro={0}:/etc/duo-fleet".format(os.path.join(host.dir, "setup")),
             "--bind={0}:/run/duo-engine".format(os.path.join(host.dir, "engine", "run")),
             # The engine's data root, so that what Docker reports about it (free space) is true here too.
             "--bind-ro={0}:/var/lib/docker".format(os.path.join(host.dir, "engine", "docker"))],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            preexec_fn=enter_cgroup(host.name))
    return process.pid


# --- services on the lab link ---------------------------------------------------------------------------

REGISTRY_MIRROR_CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {data}
http:
  addr: {address}
proxy:
  remoteurl: {upstream}
"""


def start_services(hosts):
    """The lab registry, served on the bridge as a pull-through mirror of the machine's registry (which
    listens on loopback only); DNS for the fleet's names on the bridge (answers nothing else); the apt
    repository of prepared packages on the bridge and on the air-gap link (an air-gapped site's own mirror)."""
    services = os.path.join(FLEET, "services")
    os.makedirs(os.path.join(services, "registry"), exist_ok=True)
    dns_hosts = os.path.join(services, "dns-hosts")
    with open(dns_hosts, "w") as handle:
        handle.writelines("{0} {1}\n".format(host.address, host.fqdn) for host in hosts if host.kind != "airgapped")
        handle.write("{0} control.{1} registry.{1}\n".format(BRIDGE_ADDRESS, DOMAIN))
    config = os.path.join(services, "registry", "config.yml")
    with open(config, "w") as handle:
        handle.write(REGISTRY_MIRROR_CONFIG.format(data=os.path.join(CACHE, "registry-mirror"), address=REGISTRY,
                                                   upstream=UPSTREAM_REGISTRY))
    pids = {}
    with open(os.path.join(services, "registry", "registry.log"), "ab") as log:
        pids["registry"] = subprocess.Popen(["docker-registry", "serve", config], stdout=log, stderr=log,
                                            stdin=subprocess.DEVNULL, start_new_session=True).pid
    with open(os.path.join(services, "dns.log"), "ab") as log:
        pids["dns"] = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--addn-hosts=" + dns_hosts,
             "--listen-address=" + BRIDGE_ADDRESS, "--bind-interfaces", "--pid-file", "--log-facility=-"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True).pid
    pids["apt"] = start_apt("apt", BRIDGE_ADDRESS)
    return pids


def start_apt(label, address):
    """The apt repository served on ``address`` (which must exist: the air-gap link's once air01's veth is made)."""
    with open(os.path.join(FLEET, "services", label + ".log"), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", address, "--directory", APT_REPO, str(APT_PORT)],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True).pid


def openssl(*args):
    run(["openssl"] + list(args), capture_output=True)


def fleet_ca():
    """The fleet's own CA (an infrastructure team's internal CA): it signs the ACME server's TLS certificate
    and certificates given to proxies in the "provided" mode. prepare_hosts.yml makes the hosts trust it."""
    os.makedirs(CA_DIR, exist_ok=True)
    ca, ca_key = os.path.join(CA_DIR, "ca.pem"), os.path.join(CA_DIR, "ca-key.pem")
    if not os.path.exists(ca):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj", "/CN=duo fleet lab CA",
                "-keyout", ca_key, "-out", ca)
    return ca, ca_key


def issue(name, addresses=(), dns_names=()):
    """A certificate from the fleet CA: CA_DIR/NAME/{cert,key}.pem."""
    ca, ca_key = fleet_ca()
    home = os.path.join(CA_DIR, name)
    os.makedirs(home, exist_ok=True)
    cert, key, request = (os.path.join(home, part) for part in ("cert.pem", "key.pem", "cert.csr"))
    if not os.path.exists(cert):
        san = ",".join(["IP:" + address for address in addresses] + ["DNS:" + dns for dns in dns_names])
        with open(os.path.join(home, "san.ext"), "w") as handle:
            handle.write("subjectAltName=" + san + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + (list(dns_names) + list(addresses))[0],
                "-keyout", key, "-out", request)
        openssl("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "90",
                "-extfile", os.path.join(home, "san.ext"), "-out", cert)
    return cert, key


def start_acme(pids):
    """Pebble (the Let's Encrypt test CA) on the bridge, for the fleet: it resolves names with the fleet's DNS,
    so HTTP-01 checks reach the gateway hosts' port 80. Its issuing root (new at every start) joins the CA
    bundle the control node verifies with (CA_DIR/trusted.pem)."""
    ca, _key = fleet_ca()
    cert, key = issue("acme-server", addresses=[BRIDGE_ADDRESS], dns_names=["control." + DOMAIN])
    config = os.path.join(FLEET, "services", "pebble-config.json")
    with open(config, "w") as handle:
        json.dump({"pebble": {"listenAddress": BRIDGE_ADDRESS + ":14000",
                              "managementListenAddress": BRIDGE_ADDRESS + ":15000", "certificate": cert,
                              "privateKey": key, "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "",
                              "externalAccountBindingRequired": False}}, handle)
    env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
    with open(os.path.join(FLEET, "services", "pebble.log"), "ab") as log:
        # -dnsserver first: lab.sh replaces a Pebble whose command line reads "pebble -config ".
        pids["acme"] = subprocess.Popen(["pebble", "-dnsserver", BRIDGE_ADDRESS + ":53", "-config", config],
                                        env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                        start_new_session=True).pid
    wait_for("the fleet's ACME server", lambda: answers(BRIDGE_ADDRESS, 15000))
    root = None
    deadline = time.monotonic() + 20
    while root is None and time.monotonic() < deadline:
        fetched = run(["curl", "-fsS", "--cacert", ca, "https://{0}:15000/roots/0".format(BRIDGE_ADDRESS)],
                      capture_output=True, text=True, check=False)
        root = fetched.stdout if fetched.returncode == 0 else None
        time.sleep(0.2)
    with open(os.path.join(CA_DIR, "acme-root.pem"), "w") as handle:
        handle.write(root)
    with open(os.path.join(CA_DIR, "trusted.pem"), "w") as handle:
        handle.write(open(ca).read() + root)


def wait_for(what, check, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit("timed out waiting for " + what)


def answers(address, port):
    import socket
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def machine_hosts_file(hosts):
    """The control node resolves fleet names through a marked block of /etc/hosts (removed by down).
    The file is rewritten in place: it may be a bind mount."""
    with open("/etc/hosts") as handle:
        kept = [line for line in handle if HOSTS_MARK not in line]
    lines = ["{0} {1}  {2}\n".format(host.address, host.fqdn, HOSTS_MARK) for host in hosts]
    with open("/etc/hosts", "w") as handle:
        handle.writelines(kept + lines)


# --- state ----------------------------------------------------------------------------------------------

def load_state():
    if not os.path.exists(STATE):
        return None
    with open(STATE) as handle:
        return json.load(handle)


def save_state(state):
    with open(STATE + ".new", "w") as handle:
        json.dump(state, handle, indent=1)
    os.replace(STATE + ".new", STATE)


def hosts_of(state):
    return [Host(**entry) for entry in state["hosts"]]


def plan(size):
    hosts = [Host("node{0:02d}".format(index), "docker", "{0}.{1}".format(SUBNET, 10 + index))
             for index in range(1, size + 1)]
    hosts.append(Host("sd01", "systemd", SUBNET + ".100"))
    hosts.append(Host("air01", "airgapped", AIRGAP_HOST_ADDRESS))
    return hosts


def ssh_key():
    key = os.path.join(SSH_DIR, "id_ed25519")
    if not os.path.exists(key):
        os.makedirs(CONTROL_PATH_DIR, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "duo-fleet-control", "-f", key])
    with open(key + ".pub") as handle:
        return handle.read()


def up(size):
    if load_state():
        raise SystemExit("a fleet is up already ({0}): run `lab/lab.sh fleet down` first".format(STATE))
    install_control_packages()
    build_rootfs()
    build_apt_repo()
    os.makedirs(FLEET, exist_ok=True)
    hosts = plan(size)
    state = {"size": size, "hosts": [], "services": {}}
    save_state(state)  # from here on, down() can clean up whatever was made
    public_key = ssh_key()
    make_bridge()
    state["services"] = start_services(hosts)
    save_state(state)
    start_acme(state["services"])
    save_state(state)
    for host in hosts:
        say("starting {0} ({1}, {2})".format(host.name, host.kind, host.address))
        make_netns(host.name, host.address, airgapped=host.kind == "airgapped")
        if host.kind == "airgapped" and "apt_airgap" not in state["services"]:
            # Its address exists from here on (the control node's end of the air-gap link): bound any earlier, the
            # server failed and air01 had no package source.
            state["services"]["apt_airgap"] = start_apt("apt_airgap", AIRGAP_CONTROL_ADDRESS)
            save_state(state)
        write_setup(host, hosts, public_key)
        if host.kind == "systemd":
            host.pids["engine"] = start_chroot(host, host.name, sshd=False, label="engine")
            host.pids["nspawn"] = start_machine(host)
        else:
            host.pids["unshare"] = start_chroot(host, host.name)
            host.pids["init"] = ns_child(host.pids["unshare"])
        state["hosts"].append(host.as_dict())
        save_state(state)
    with open(os.path.join(SSH_DIR, "known_hosts"), "w") as handle:
        for host in hosts:
            with open(os.path.join(host.dir, "setup", "ssh_host_ed25519_key.pub")) as key:
                handle.write("{0},{1} {2}".format(host.address, host.fqdn, key.read()))
    machine_hosts_file(hosts)
    for host in hosts:
        wait_for("sshd on " + host.name, lambda: answers(host.address, 22), 90)
        if host.kind == "systemd":
            host.pids["machine_leader"] = ns_child(host.pids["nspawn"])
        wait_for("the Docker engine of " + host.name,
                 lambda: run(["docker", "-H", host.docker_socket, "info"], capture_output=True,
                             check=False).returncode == 0, 90)
    state["hosts"] = [host.as_dict() for host in hosts]
    save_state(state)
    wait_for("the registry mirror", lambda: answers(BRIDGE_ADDRESS, 5000))
    if "apt_airgap" in state["services"]:
        wait_for("the apt repository on the air-gap link", lambda: answers(AIRGAP_CONTROL_ADDRESS, APT_PORT))
    say("ready: {0} (SSH as {1}, key {2})".format(", ".join(h.name for h in hosts), LOGIN_USER,
                                                  os.path.join(SSH_DIR, "id_ed25519")))
    return state


# --- tear-down ------------------------------------------------------------------------------------------

def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, TypeError):
        return False


def stop_process(pid, grace=10.0, first=signal.SIGTERM):
    """Signal ``pid``, wait for it to go, SIGKILL after ``grace`` seconds."""
    if not pid or not alive(pid):
        return
    try:
        os.kill(pid, first)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        try:  # our own child when up() and down() run in one process (tests)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def stop_ssh_masters():
    """ControlPersist masters outlive sshd: stop each by the PID it reports, then remove its socket."""
    if not os.path.isdir(CONTROL_PATH_DIR):
        return
    for name in os.listdir(CONTROL_PATH_DIR):
        path = os.path.join(CONTROL_PATH_DIR, name)
        check = run(["ssh", "-o", "ControlPath=" + path, "-O", "check", "fleet"], capture_output=True, text=True,
                    check=False)
        if "pid=" in check.stderr:
            stop_process(int(check.stderr.split("pid=")[1].split(")")[0]), grace=3)
        if os.path.exists(path):
            os.remove(path)


def remove_cgroups(prefix):
    """The engines' containers ran under cgroup parents named after their host: remove what is left."""
    root = "/sys/fs/cgroup"
    for controller in os.listdir(root):
        top = os.path.join(root, controller)
        if not os.path.isdir(top) or os.path.islink(top):
            continue
        for name in os.listdir(top):
            if name.startswith(prefix):
                for path, _dirs, _files in sorted(os.walk(os.path.join(top, name)), key=lambda item: -len(item[0])):
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass


def down():
    state = load_state() or {"hosts": [], "services": {}}
    stop_ssh_masters()
    for host in hosts_of(state):
        if host.kind == "systemd":
            # SIGTERM asks the machine's systemd to shut down; SIGKILL would leave its tmpfs overlay busy.
            stop_process(host.pids.get("nspawn"), grace=20)
        # Killing unshare kills PID 1 of the host's PID namespace (--kill-child), and so every process in it;
        # its mounts (overlay root, /proc, binds) go with the mount namespace.
        for key in ("unshare", "engine"):
            stop_process(host.pids.get(key), grace=5, first=signal.SIGKILL)
    for pid in state.get("services", {}).values():
        stop_process(pid, grace=5)
    for host in plan(state.get("size", 0)) + hosts_of(state):
        if netns_exists(host.name):
            ip("netns", "del", host.name, check=False)
        ip("link", "del", "df-" + host.name, check=False)
    ip("link", "del", BRIDGE, check=False)
    remove_forward_rule()
    # A backstop: anything of a host that outlived its PID namespace (nothing, when all went well).
    for pid in cgroup_processes():
        stop_process(pid, grace=2, first=signal.SIGKILL)
    remove_cgroups(CGROUP_PREFIX)
    if os.path.exists("/etc/hosts"):
        machine_hosts_file([])
    if os.path.isdir(FLEET):
        shutil.rmtree(FLEET)
    say("removed the fleet (the cached root filesystem stays in {0})".format(CACHE))


def leftovers():
    """What a fleet left on this machine: namespaces, links, mounts, processes, SSH masters (empty = clean)."""
    found = []
    netns = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
    found += ["network namespace " + name for name in netns if name.startswith(("node", "sd0", "air0"))]
    links = run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    found += ["link " + line.split(":")[1].strip().split("@")[0] for line in links.splitlines()
              if line.split(":")[1].strip().startswith(("df-", BRIDGE))]
    with open("/proc/self/mountinfo") as handle:
        found += ["mount " + line.split()[4] for line in handle if FLEET in line.split()[4]]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/{0}/cmdline".format(pid), "rb") as handle:
                    command = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if FLEET in command or CACHE in command:
                found.append("process {0}: {1}".format(pid, command[:120]))
    found += ["process {0} in a fleet host's cgroup".format(pid) for pid in cgroup_processes()]
    found += ["cgroup " + os.path.join(root, name) for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory")
              if os.path.isdir(root) for name in os.listdir(root) if name.startswith(CGROUP_PREFIX)]
    with open("/etc/hosts") as handle:
        found += ["/etc/hosts line " + line.strip() for line in handle if HOSTS_MARK in line]
    if run(["iptables", "-C"] + FORWARD_RULE, capture_output=True, check=False).returncode == 0:
        found.append("iptables rule " + " ".join(FORWARD_RULE))
    return found


# --- GitLab stand-in on a fleet host --------------------------------------------------------------------

STANDIN_SOURCES = os.path.join(REPO, "lab", "gitlab")
OMNIBUS_VERSION_FILE = "/opt/gitlab/embedded/service/gitlab-rails/VERSION"
STANDIN_ROOT = "/opt/gitlab-standin"


def gitlab(host_name, name, version, port):
    """A GitLab stand-in on a fleet host, laid out like Omnibus: gitlab-rails and gitlab-rake on the PATH
    (/usr/bin), the version file at the Omnibus path, llm.log where GitLab writes it; its API on the host's
    address. State in /var/opt/gitlab-standin/NAME (one host may carry several instances on distinct ports)."""
    state = load_state()
    host = next(host for host in hosts_of(state) if host.name == host_name)
    home = "/var/opt/gitlab-standin/" + name
    sources = tarfile_of(STANDIN_SOURCES)
    host.run("mkdir -p {0} && tar -C {0} -xf -".format(STANDIN_ROOT), input=sources, text=False)
    token = os.urandom(12).hex()
    script = """set -e
mkdir -p {home} /var/log/gitlab/gitlab-rails "$(dirname {version_file})"
printf '%s\\n' {version} >{version_file}
ln -sfn {version_file} {home}/VERSION
[ -f {home}/state.json ] || cat >{home}/state.json <<'JSON'
{{"admin_token": "glpat-fleet-{token}", "gitlab_url": "{url}", "ai_settings": {{}}, "application_settings": {{}},
 "users": {{"root": {{"id": 1, "admin": true, "code_suggestions": true}},
           "duo-user": {{"id": 2, "code_suggestions": true}}}},
 "feature_settings": [{{"feature": "code_completions", "provider": "self_hosted"}},
                      {{"feature": "code_generations", "provider": "self_hosted"}}]}}
JSON
[ -f /var/log/gitlab/gitlab-rails/llm.log ] || cp {root}/samples/llm-healthy.log /var/log/gitlab/gitlab-rails/llm.log
for tool in gitlab-rails gitlab-rake; do
  printf '#!/bin/sh\\nGITLAB_STANDIN_HOME=%s exec %s/%s "$@"\\n' {home} {root} $tool >/usr/bin/$tool
  chmod 755 /usr/bin/$tool
done
cd {home} && nohup python3 {root}/api.py {home} {port} {address} >{home}/api.log 2>&1 &
""".format(home=home, version_file=OMNIBUS_VERSION_FILE, version=version, token=token, root=STANDIN_ROOT,
           port=port, address=host.address, url="http://{0}:{1}".format(host.fqdn, port))
    host.run(script)
    wait_for("the GitLab API stand-in on {0}:{1}".format(host.address, port), lambda: answers(host.address, port))
    return {"host": host.name, "address": host.address, "home": home, "port": port,
            "url": "http://{0}:{1}".format(host.fqdn, port)}


def tarfile_of(directory):
    import io
    import tarfile
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(directory, arcname=".")
    return buffer.getvalue()


def main(argv):
    command = argv[1] if len(argv) > 1 else "status"
    if command == "up":
        up(int(argv[2]) if len(argv) > 2 else 3)
    elif command == "down":
        down()
    elif command == "gitlab":
        print(json.dumps(gitlab(argv[2], argv[3], argv[4], int(argv[5]))))
    elif command == "status":
        print(json.dumps(load_state(), indent=1))
    elif command == "leftovers":
        found = leftovers()
        print("\n".join(found) or "nothing left")
        return 1 if found else 0
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
