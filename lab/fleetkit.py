"""Drive the fleet lab from Python (tests, demo, benchmarks): inventories that reach fleet hosts over SSH,
GitLab stand-ins on fleet hosts, and looks at what a play left on a host. The fleet itself is lab/fleet_hosts.py."""

import json
import os

import yaml

import fleet_hosts as fleet

# Ansible's own ssh_args (ControlPersist) plus the lab's known hosts: a host key that changes is refused.
SSH_ARGS = "-o ControlMaster=auto -o ControlPersist=60s"


def connection_vars(pipelining=True, ssh_executable=None):
    """How infrastructure teams reach hosts: SSH with a key, an unprivileged user, sudo, Debian's Python."""
    variables = {
        "ansible_connection": "ssh",
        "ansible_user": fleet.LOGIN_USER,
        "ansible_ssh_private_key_file": os.path.join(fleet.SSH_DIR, "id_ed25519"),
        "ansible_ssh_args": SSH_ARGS,
        "ansible_ssh_common_args": "-o UserKnownHostsFile={0} -o StrictHostKeyChecking=yes -o BatchMode=yes".format(
            os.path.join(fleet.SSH_DIR, "known_hosts")),
        "ansible_control_path_dir": fleet.CONTROL_PATH_DIR,
        "ansible_pipelining": pipelining,
        "ansible_become": True,
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    if ssh_executable:
        variables["ansible_ssh_executable"] = ssh_executable
    return variables


# The control node, named so that delegate_to: localhost never inherits the fleet's SSH settings.
CONTROL_NODE = {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                              "ansible_become": False}}


class FleetLab:
    """The running fleet, from its state file."""

    def __init__(self):
        self.state = fleet.load_state()
        if not self.state:
            raise RuntimeError("no fleet is up: lab/lab.sh fleet up N")
        self.hosts = {host.name: host for host in fleet.hosts_of(self.state)}

    def gitlab(self, host, name, version, port=8080):
        """A GitLab stand-in on fleet host ``host``; its inventory variables (Omnibus defaults: none needed
        for gitlab-rails, gitlab-rake and the version file)."""
        made = fleet.gitlab(host, name, version, port)
        return GitLabOnHost(self.hosts[host], name, made)

    def gateway_vars(self, host, instance, **extra):
        """A gateway host serving ``instance``; the image comes from the registry mirror on the lab link."""
        variables = {"ansible_host": self.hosts[host].address, "ai_gateway_gitlab_instance": instance,
                     "ai_gateway_registry": "http://" + fleet.REGISTRY, "ai_gateway_health_timeout": 30}
        variables.update(extra)
        return variables

    def container_proxy_vars(self, host):
        """NGINX in a container, certificate from the fleet's ACME server (HTTP-01 on port 80)."""
        return {"tls_proxy_enabled": True, "tls_proxy_mode": "container",
                "tls_proxy_image": fleet.REGISTRY + "/library/nginx:1.22-lab",
                "tls_proxy_domains": [self.hosts[host].fqdn], "tls_proxy_acme_directory": fleet.ACME_DIRECTORY,
                "tls_proxy_acme_ca_bundle": "/etc/ssl/certs/ca-certificates.crt"}

    def systemd_proxy_vars(self, host):
        """NGINX from Debian's package under its own systemd unit, with a certificate from the fleet's CA
        (provided mode). Port 80 is the package's own default site, so the proxy takes 8080/8443."""
        fqdn = self.hosts[host].fqdn
        cert, key = fleet.issue(host, dns_names=[fqdn])
        return {"tls_proxy_enabled": True, "tls_proxy_mode": "host", "tls_proxy_host_package": "nginx",
                "tls_proxy_host_service_manager": "systemd", "tls_proxy_domains": [fqdn],
                "tls_proxy_http_port": 8080, "tls_proxy_https_port": 8443,
                "tls_proxy_certificate_mode": "provided", "tls_proxy_certificate_file": cert,
                "tls_proxy_key_file": key}

    def prepare_vars(self):
        """What prepare_hosts.yml installs here: the fleet CA and the ACME server's root into the trust store."""
        return {"prepare_hosts_ca_certificates": [os.path.join(fleet.CA_DIR, "ca.pem"),
                                                  os.path.join(fleet.CA_DIR, "acme-root.pem")]}

    def docker(self, host):
        """The Docker engine of a fleet host, seen from the control node (tests look at what a play did)."""
        import docker
        return docker.DockerClient(base_url=self.hosts[host].docker_socket)

    def ssh_connections(self, host):
        """SSH connections the host's sshd accepted so far."""
        target = self.hosts[host]
        if target.kind == "systemd":
            log = target.run("journalctl -q -u ssh.service -o cat", check=False).stdout
        else:
            with open(os.path.join(target.dir, "run", "sshd.log")) as handle:
                log = handle.read()
        return log.count("Accepted publickey")


def with_fleet(size, function):
    """function(FleetLab()) on a fleet of ``size`` Docker hosts brought up for it (after taking down whatever an
    interrupted run left) and taken down afterwards, whatever happens; its return value (benchmarks)."""
    fleet.down()
    try:
        fleet.up(size)
        return function(FleetLab())
    finally:
        fleet.down()


class GitLabOnHost:
    """A GitLab stand-in living on a fleet host; read through that host (nothing of it is on the control node)."""

    def __init__(self, host, name, made):
        self.host = host
        self.name = name
        self.home = made["home"]
        self.url = made["url"]
        self.port = made["port"]

    def host_vars(self):
        return {"ansible_host": self.host.address, "gitlab_url": self.url}

    def read(self, path):
        return self.host.run("cat " + path).stdout

    @property
    def state(self):
        return json.loads(self.read(self.home + "/state.json"))

    def set_state(self, state):
        self.host.run("cat >{0}/state.json".format(self.home), input=json.dumps(state))

    @property
    def admin_token(self):
        return self.state["admin_token"]

    def set_version(self, version):
        """Upgrade (or downgrade) the stand-in: GitLab's version file at the Omnibus path, read on every request."""
        self.host.run("printf '%s\\n' {0} >{1}".format(version, fleet.OMNIBUS_VERSION_FILE))

    def runner_calls(self):
        return len(self.host.run("cat {0}/runner-calls.log 2>/dev/null || true".format(self.home)).stdout.splitlines())


def write_inventory(path, gitlab_hosts, gateway_hosts, connection=None, proxy_hosts=None, **common):
    """gitlab_hosts / gateway_hosts / proxy_hosts (NGINX in front of a pool, no gateway): {inventory name: vars};
    common: vars for every host. The fleet's hosts are reached over SSH; localhost stays the control node."""
    groups = {"gitlab": {"hosts": gitlab_hosts}, "ai_gateway": {"hosts": gateway_hosts}}
    if proxy_hosts:
        groups["ai_gateway_proxy"] = {"hosts": proxy_hosts}
    inventory = {"all": {
        "hosts": dict(CONTROL_NODE),
        "vars": common,
        "children": {"fleet": {"vars": connection or connection_vars(), "children": groups}}}}
    with open(str(path), "w") as handle:
        yaml.safe_dump(inventory, handle, sort_keys=False)
    return str(path)


def common_vars(report_dir):
    """Variables every fleet scenario shares: reports on the control node, verification with the fleet's CAs."""
    return {"verify_report_dir": os.path.join(str(report_dir), "install"),
            "troubleshoot_report_dir": os.path.join(str(report_dir), "troubleshoot"),
            "verify_ca_path": "/etc/ssl/certs/ca-certificates.crt",
            "upgrade_report_dir": os.path.join(str(report_dir), "upgrade"),
            "gitlab_settings_snapshot_dir": os.path.join(str(report_dir), "settings"),
            "upgrade_verify_ca_path": "/etc/ssl/certs/ca-certificates.crt",
            "verify_control_node_ca_path": os.path.join(fleet.CA_DIR, "trusted.pem"),
            "verify_run_rake": True, "troubleshoot_run_rake": True, "troubleshoot_user": "duo-user",
            "troubleshoot_round_trip": {"model": "mistral", "model_endpoint": "http://vllm.duo-fleet.test:8000/v1"}}


def two_instances(lab, report_dir, path):
    """The fleet scenario of tests/fleet and demo.sh --fleet: GitLab 18.2.1-ee on node01 served by a gateway
    on node03 (NGINX in a container, ACME), GitLab 18.3.0-ee on node02 served by a gateway on the systemd host
    sd01 (NGINX from Debian under systemd, the fleet CA's certificate). Returns (inventory, stand-ins)."""
    gitlab_a = lab.gitlab("node01", "gitlab-a", "18.2.1-ee")
    gitlab_b = lab.gitlab("node02", "gitlab-b", "18.3.0-ee")
    gateways = {
        lab.hosts["node03"].fqdn: lab.gateway_vars("node03", "gitlab-a", **lab.container_proxy_vars("node03")),
        lab.hosts["sd01"].fqdn: lab.gateway_vars("sd01", "gitlab-b", **lab.systemd_proxy_vars("sd01")),
    }
    common = common_vars(report_dir)
    common.update(lab.prepare_vars())
    inventory = write_inventory(path, {"gitlab-a": gitlab_a.host_vars(), "gitlab-b": gitlab_b.host_vars()},
                                gateways, **common)
    return inventory, {"gitlab-a": gitlab_a, "gitlab-b": gitlab_b}


def pool_of_two(lab, gitlab, report_dir, path, **gitlab_vars):
    """One GitLab instance (the stand-in ``gitlab``, on node01) served by a pool of two gateways: node03 runs one
    and NGINX in a container in front of both; node02 runs the other, published on its port 5052. ``gitlab_vars``
    go to the instance's host (e.g. ai_gateway_expected_users)."""
    proxy, member = lab.hosts["node03"].fqdn, lab.hosts["node02"].fqdn
    gateways = {
        proxy: lab.gateway_vars("node03", gitlab.name, tls_proxy_pool_members=[member],
                                **lab.container_proxy_vars("node03")),
        member: lab.gateway_vars("node02", gitlab.name),
    }
    common = common_vars(report_dir)
    common.update(lab.prepare_vars())
    return write_inventory(path, {gitlab.name: dict(gitlab.host_vars(), **gitlab_vars)}, gateways, **common)


def pool_behind_a_proxy_host(lab, gitlab, report_dir, path, proxy="node01", members=("node03", "node02"),
                             member_vars=None):
    """One GitLab instance (the stand-in ``gitlab``) served by a pool of gateways on ``members`` (each published on
    its port 5052) behind NGINX in a container on ``proxy``, a host of the ai_gateway_proxy group that runs no
    gateway (here the GitLab stand-in's host). ``member_vars``: {member: extra variables}."""
    fqdn = {name: lab.hosts[name].fqdn for name in (proxy,) + tuple(members)}
    proxies = {fqdn[proxy]: dict(lab.container_proxy_vars(proxy), ansible_host=lab.hosts[proxy].address,
                                 tls_proxy_pool_members=[fqdn[member] for member in members])}
    gateways = {fqdn[member]: lab.gateway_vars(member, gitlab.name, **(member_vars or {}).get(member, {}))
                for member in members}
    common = common_vars(report_dir)
    common.update(lab.prepare_vars())
    return write_inventory(path, {gitlab.name: gitlab.host_vars()}, gateways, proxy_hosts=proxies, **common)
