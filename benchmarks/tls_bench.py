"""Benchmark the TLS proxy on the lab: certificate issuance against Pebble and the idempotent rerun (both through
the tls_certificate module, as a play runs them), and requests/s to the gateway stand-in directly vs. through
NGINX with TLS (a bounded loopback load).

Usage: .venv/bin/python benchmarks/tls_bench.py [--requests 2000] [--workers 4]
"""

import argparse
import concurrent.futures
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab"))

from labkit import IMAGE, REPO, free_port, lab_up, run_module  # noqa: E402

DOMAIN = "gateway.duo-lab.test"
PEBBLE_CA = os.path.join(REPO, ".lab", "pebble", "ca.pem")
NGINX_IMAGE = "127.0.0.1:5000/library/nginx:1.22-lab"
TEMPLATE = os.path.join(REPO, "roles", "tls_proxy", "templates", "nginx.conf.j2")


def timed(function):
    started = time.monotonic()
    value = function()
    return value, time.monotonic() - started


def load(url, total, workers, verify):
    """``total`` GETs with ``workers`` threads (one keep-alive session each); returns (req/s, failures)."""
    local = threading.local()

    def one(_index):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session.get(url, verify=verify, timeout=10).status_code == 200

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, range(total)))
    return total / (time.monotonic() - started), results.count(False)


def render_config(gateway_name):
    import jinja2
    with open(TEMPLATE) as handle:
        template = jinja2.Template(handle.read())
    return template.render(ansible_managed="benchmark", tls_proxy_worker_connections=1024,
                           tls_proxy_keepalive_timeout=65, tls_proxy_domains=[DOMAIN], tls_proxy_https_port=443,
                           tls_proxy_serve_tls=True, tls_proxy_in_container=True, tls_proxy_conf_root="/etc/nginx/duo",
                           tls_proxy_runtime_dir="/tmp", tls_proxy_listen_http="80", tls_proxy_listen_https="443",
                           tls_proxy_upstream=gateway_name + ":5052", tls_proxy_read_timeout=300,
                           tls_proxy_connect_timeout=75) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    lab_up()
    import docker
    client = docker.from_env()
    run = uuid.uuid4().hex[:8]
    work = tempfile.mkdtemp(prefix="duo-tls-bench-")
    os.chmod(work, 0o755)
    network = "duo-bench-" + run
    proxy_dir = os.path.join(work, "nginx")
    os.makedirs(os.path.join(proxy_dir, "webroot"), mode=0o755)
    cert_args = {"domains": [DOMAIN], "cert_dir": os.path.join(proxy_dir, "certs"),
                 "webroot": os.path.join(proxy_dir, "webroot"), "acme_directory": "https://127.0.0.1:14000/dir",
                 "acme_ca_bundle": PEBBLE_CA, "acme_account_key": os.path.join(work, "account.pem")}
    gateway_name = "duo-bench-gw-" + run
    try:
        client.networks.create(network, driver="bridge")
        direct_port, https_port = free_port(), free_port()
        client.containers.run(IMAGE + ":self-hosted-v18.2.10-ee", detach=True, name=gateway_name, network=network,
                              ports={"5052/tcp": ("127.0.0.1", direct_port)}, labels={"gitlab_duo.bench": run})
        proxy = {"proxy_container_name": "duo-bench-proxy-" + run, "image": NGINX_IMAGE, "network": network, "proxy_dir": proxy_dir,
                 "http_port": 5002, "https_port": https_port, "bind_address": "127.0.0.1",
                 "labels": {"gitlab_duo.bench": run}}
        http_only = render_config(gateway_name).split("\n    server {\n        listen 443")[0] + "\n}\n"
        run_module("nginx_proxy", dict(proxy, config=http_only))
        (rc, issued, output), issue_seconds = timed(lambda: run_module("tls_certificate", cert_args))
        if rc != 0:
            raise SystemExit(output)
        (_rc, again, _output), rerun_seconds = timed(lambda: run_module("tls_certificate", cert_args))
        assert not again["changed"]
        run_module("nginx_proxy", dict(proxy, config=render_config(gateway_name)))
        root = os.path.join(work, "root.pem")
        with open(root, "w") as handle:
            handle.write(requests.get("https://127.0.0.1:15000/roots/0", verify=PEBBLE_CA, timeout=10).text)
        direct = load("http://127.0.0.1:{0}/monitoring/healthz".format(direct_port), args.requests, args.workers, True)
        proxied = load("https://{0}:{1}/monitoring/healthz".format(DOMAIN, https_port), args.requests, args.workers,
                       root)
    finally:
        for container in client.containers.list(all=True, filters={"label": "gitlab_duo.bench=" + run}):
            container.remove(force=True)
        for item in client.networks.list(names=[network]):
            item.remove()
        shutil.rmtree(work, ignore_errors=True)
    print("| measure | value |")
    print("|---|---|")
    print("| certificate issuance from Pebble (tls_certificate, first run) | {0:.2f} s |".format(issue_seconds))
    print("| idempotent rerun (no order placed) | {0:.2f} s |".format(rerun_seconds))
    print("| direct to the gateway stand-in (HTTP, {0} requests, {1} workers) | {2:.0f} req/s, {3} failed |".format(
        args.requests, args.workers, *direct))
    print("| through NGINX with TLS (HTTPS, same load) | {0:.0f} req/s, {1} failed |".format(*proxied))


if __name__ == "__main__":
    main()
