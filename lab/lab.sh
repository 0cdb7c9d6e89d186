#!/usr/bin/env bash
# The local lab: real Docker engine, real registry with gateway stand-in images, GitLab stand-ins.
# Usage: lab/lab.sh up | down | instance NAME VERSION API_PORT | standin-context DIR | fleet up N | fleet down | fleet status
# Everything it makes lives under $DUO_LAB_DIR (default: <checkout>/.lab); it is safe to run again.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB=${DUO_LAB_DIR:-$REPO/.lab}
REGISTRY_PORT=${DUO_LAB_REGISTRY_PORT:-5000}
REGISTRY=127.0.0.1:$REGISTRY_PORT
GATEWAY_REPOSITORY=gitlab-org/modelops/applied-ml/code-suggestions/ai-assist/model-gateway
# Release tags the stand-in registry holds, with the traps a tag chooser must avoid (18.2.10 vs 18.2.9,
# 18.10 vs 18.1, nightly, latest, an rc suffix).
GATEWAY_TAGS="self-hosted-v18.1.0-ee self-hosted-v18.1.1-ee self-hosted-v18.2.0-ee self-hosted-v18.2.1-ee
self-hosted-v18.2.2-ee self-hosted-v18.2.9-ee self-hosted-v18.2.10-ee self-hosted-v18.2.11-ee-rc1
self-hosted-v18.3.0-ee self-hosted-v18.10.0-ee self-hosted-v19.2.0-ee nightly latest"
LAB_HOSTNAMES="gateway.duo-lab.test gitlab.duo-lab.test"
# Where Pebble sends HTTP-01 validation requests: NGINX serves /.well-known/acme-challenge/ there.
ACME_HTTP_PORT=${DUO_LAB_ACME_HTTP_PORT:-5002}
APT_PACKAGES="docker.io docker-registry skopeo ruby busybox-static socat pebble nginx-light curl shellcheck systemd"

say() { printf '[lab] %s\n' "$*"; }

install_packages() {
  local missing=()
  for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

python_env() {
  local stamp="$REPO/.venv/.requirements"
  if [ ! -x "$REPO/.venv/bin/python" ] || ! cmp -s "$REPO/requirements-test.txt" "$stamp"; then
    say "creating the Python environment in .venv"
    python3 -m venv "$REPO/.venv"
    "$REPO/.venv/bin/pip" install -q --disable-pip-version-check -r "$REPO/requirements-test.txt" 2>&1 \
      | grep -v "^WARNING: Location" || true
    cp "$REPO/requirements-test.txt" "$stamp"
  fi
}

link_collection() {
  mkdir -p "$LAB/collections/ansible_collections/gitlab_duo"
  ln -sfn "$REPO" "$LAB/collections/ansible_collections/gitlab_duo/self_hosted"
}

wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.3
  done
}

docker_engine() {
  if docker info >/dev/null 2>&1; then return; fi
  say "starting dockerd"
  mkdir -p "$LAB"
  nohup dockerd --host unix:///var/run/docker.sock >"$LAB/dockerd.log" 2>&1 &
  wait_for 60 docker info || { tail -20 "$LAB/dockerd.log"; say "dockerd did not start"; exit 1; }
}

registry() {
  if curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; then return; fi
  say "starting the registry on $REGISTRY"
  mkdir -p "$LAB/registry/data"
  cat >"$LAB/registry/config.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $LAB/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
CONF
  nohup docker-registry serve "$LAB/registry/config.yml" >"$LAB/registry/registry.log" 2>&1 &
  wait_for 30 curl -fsS "http://$REGISTRY/v2/" || { tail -20 "$LAB/registry/registry.log"; exit 1; }
}

standin_context() {  # standin_context DIR: the gateway stand-in's build context (also lab/labkit.py's builds)
  local context=$1 lib
  cp "$REPO"/lab/images/gateway/* "$context/"
  cp "$(command -v busybox)" "$context/busybox"
  # socat is the stand-in's listener: unlike busybox nc it binds the address the gateway's uvicorn would
  # (AIGW_FASTAPI__API_HOST). The image is FROM scratch, so the host's socat comes with the libraries ldd names.
  mkdir -p "$context/socat-root/usr/bin"
  cp "$(command -v socat)" "$context/socat-root/usr/bin/socat"
  ldd "$(command -v socat)" | grep -o '/[^ ]*' | while read -r lib; do
    mkdir -p "$context/socat-root$(dirname "$lib")"
    cp -L "$lib" "$context/socat-root$lib"
  done
}

gateway_images() {
  local have context tag sources stamp="$LAB/gateway-images.sha256"
  have=$(curl -fsS "http://$REGISTRY/v2/$GATEWAY_REPOSITORY/tags/list" 2>/dev/null || true)
  # Rebuild every tag when the stand-in's sources changed since the images were pushed.
  sources=$(cat "$REPO"/lab/images/gateway/* | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sources" ]; then have=""; fi
  context=$(mktemp -d)
  standin_context "$context"
  for tag in $GATEWAY_TAGS; do
    if printf '%s' "$have" | grep -q "\"$tag\""; then continue; fi
    say "building and pushing the gateway stand-in $tag"
    # The legacy builder's deprecation notice goes to stderr; show stderr only when the build fails.
    docker build -q --build-arg "GATEWAY_VERSION=$tag" -t "$REGISTRY/$GATEWAY_REPOSITORY:$tag" "$context" \
      >/dev/null 2>"$LAB/build.err" || { cat "$LAB/build.err"; exit 1; }
    docker push -q "$REGISTRY/$GATEWAY_REPOSITORY:$tag" >/dev/null
  done
  rm -rf "$context"
  mkdir -p "$LAB"
  printf '%s\n' "$sources" >"$stamp"
}

nginx_image() {
  # An NGINX image from the host's Debian nginx binary, its libraries and busybox: the lab's stand-in for
  # nginx:alpine (nothing can be pulled here). Pushed to the lab registry.
  local ref="$REGISTRY/library/nginx:1.22-lab" root
  if curl -fsS "http://$REGISTRY/v2/library/nginx/tags/list" 2>/dev/null | grep -q '"1.22-lab"'; then return; fi
  say "building and pushing the NGINX image $ref"
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,etc,run,tmp,var/lib/nginx,var/log/nginx,usr/sbin}
  cp "$(command -v busybox)" "$root/bin/busybox"
  for tool in sh cat ls wget kill; do ln -s busybox "$root/bin/$tool"; done
  cp /usr/sbin/nginx "$root/usr/sbin/nginx"
  ldd /usr/sbin/nginx | grep -o '/[^ ]*' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cp -r /etc/nginx "$root/etc/nginx"
  rm -f "$root"/etc/nginx/modules-enabled/*  # the lab image carries no dynamic modules
  mkdir -p "$root/usr/share/nginx" && cp -r /usr/share/nginx/. "$root/usr/share/nginx/"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nwww-data:x:33:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  tar -C "$root" -cf - . | docker import --change 'CMD ["nginx", "-g", "daemon off;"]' - "$ref" >/dev/null
  rm -rf "$root"
  docker push -q "$ref" >/dev/null
}

hostnames() {
  # The lab's gateway and GitLab names resolve to loopback, so no traffic leaves the machine.
  if ! grep -q "duo-lab.test" /etc/hosts; then
    say "adding $LAB_HOSTNAMES to /etc/hosts (127.0.0.1)"
    printf '127.0.0.1 %s  # gitlab_duo.self_hosted lab\n' "$LAB_HOSTNAMES" >>/etc/hosts
  fi
}

instance() {  # instance NAME VERSION API_PORT: a GitLab stand-in with its own database and API
  local version=$2 port=$3 home="$LAB/gitlab/$1"
  mkdir -p "$home/bin"
  printf '%s\n' "$version" >"$home/VERSION"
  if [ ! -f "$home/state.json" ]; then
    # The administrator (GitLab's verify task checks root when no user is given) and a user, both with a Duo
    # seat, and Code Suggestions on the self-hosted model: a healthy instance.
    # gitlab_url: the instance's own URL (Gitlab.config.gitlab.url), which the verify task's WebSocket check uses.
    printf '{"admin_token": "glpat-lab-%s", "gitlab_url": "http://gitlab.duo-lab.test:%s", "ai_settings": {}, "application_settings": {},
 "users": {"root": {"id": 1, "admin": true, "code_suggestions": true}, "duo-user": {"id": 2, "code_suggestions": true}},
 "feature_settings": [{"feature": "code_completions", "provider": "self_hosted"},
                      {"feature": "code_generations", "provider": "self_hosted"}]}\n' \
      "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$port" >"$home/state.json"
  fi
  [ -f "$home/llm.log" ] || cp "$REPO/lab/gitlab/samples/llm-healthy.log" "$home/llm.log"
  for tool in gitlab-rails gitlab-rake; do
    # SSL_CERT_FILE: the stand-in trusts the lab's ACME root, like a GitLab with it in trusted-certs.
    printf '#!/bin/sh\n[ -f %s ] && export SSL_CERT_FILE=%s\nGITLAB_STANDIN_HOME=%s exec %s "$@"\n' \
      "$LAB/pebble/trusted.pem" "$LAB/pebble/trusted.pem" "$home" "$REPO/lab/gitlab/$tool" >"$home/bin/$tool"
    chmod +x "$home/bin/$tool"
  done
  if ! curl -s -o /dev/null "http://127.0.0.1:$port/api/v4/version"; then
    nohup python3 "$REPO/lab/gitlab/api.py" "$home" "$port" >"$home/api.log" 2>&1 &
    echo $! >"$home/api.pid"
    wait_for 15 curl -s -o /dev/null "http://127.0.0.1:$port/api/v4/version"
  fi
}

trust_pebble_root() {
  # Pebble makes a new issuing root at every start: keep it, and a bundle of it plus the system's CAs for the
  # GitLab stand-in (as /etc/gitlab/trusted-certs would on a real GitLab).
  local dir="$LAB/pebble"
  curl -fsS --cacert "$dir/ca.pem" https://127.0.0.1:15000/roots/0 >"$dir/root.pem"
  cat /etc/ssl/certs/ca-certificates.crt "$dir/root.pem" >"$dir/trusted.pem"
}

acme_ca() {
  # Pebble (the Let's Encrypt test CA) on 127.0.0.1:14000; its HTTP-01 checks go to 127.0.0.1:$ACME_HTTP_PORT,
  # and pebble-challtestsrv answers every DNS name with 127.0.0.1. The package ships no certificates.
  local dir="$LAB/pebble"
  if curl -fsS --cacert "$dir/ca.pem" https://127.0.0.1:14000/dir >/dev/null 2>&1; then trust_pebble_root; return; fi
  say "starting Pebble (ACME test CA) and pebble-challtestsrv"
  mkdir -p "$dir"
  if [ ! -f "$dir/cert.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=duo lab Pebble TLS CA" \
      -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$dir/key.pem" -out "$dir/cert.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/san.ext"
    openssl x509 -req -in "$dir/cert.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial -days 3650 \
      -extfile "$dir/san.ext" -out "$dir/cert.pem" 2>/dev/null
  fi
  cat >"$dir/pebble-config.json" <<CONF
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$dir/cert.pem", "privateKey": "$dir/key.pem",
  "httpPort": $ACME_HTTP_PORT, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
CONF
  # The lab owns Pebble on this machine: one started from another checkout (its own CA) gives way.
  pkill -f "pebble -config " 2>/dev/null || true
  sleep 0.5
  if ! pgrep -f "pebble-challtestsrv -dns01 127.0.0.1:8053" >/dev/null; then
    nohup pebble-challtestsrv -dns01 127.0.0.1:8053 -http01 '' -https01 '' -tlsalpn01 '' \
    -management 127.0.0.1:8055 -defaultIPv4 127.0.0.1 -defaultIPv6 '' >"$dir/challtestsrv.log" 2>&1 &
  fi
  PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 nohup pebble -config "$dir/pebble-config.json" \
    -dnsserver 127.0.0.1:8053 >"$dir/pebble.log" 2>&1 &
  wait_for 30 curl -fsS --cacert "$dir/ca.pem" https://127.0.0.1:14000/dir || { tail -20 "$dir/pebble.log"; exit 1; }
  trust_pebble_root
  # Certificates from an earlier Pebble chain to a root nobody trusts any more: let the demo obtain new ones.
  rm -rf "$LAB/proxy/nginx/certs"
}

up() {
  install_packages
  python_env
  link_collection
  docker_engine
  registry
  gateway_images
  nginx_image
  hostnames
  acme_ca
  instance gitlab-lab 18.2.1-ee 8929
  say "ready: registry http://$REGISTRY, GitLab stand-in API http://gitlab.duo-lab.test:8929, state in $LAB"
}

down() {
  # On a fresh machine no engine answers yet, and then there are no lab containers to remove.
  if docker info >/dev/null 2>&1; then
    docker ps -aq --filter label=gitlab_duo.lab=true | xargs -r docker rm -f >/dev/null
  fi
  # The demo's NGINX (host packages, run directly).
  if [ -f "$LAB/proxy/nginx/nginx.conf" ]; then nginx -c "$LAB/proxy/nginx/nginx.conf" -s quit 2>/dev/null || true; fi
  for pidfile in "$LAB"/gitlab/*/api.pid; do
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  rm -rf "$LAB/gitlab" "$LAB/proxy" "$LAB/keys"
  say "removed the lab's containers, proxy and GitLab stand-ins (dockerd, the registry and Pebble keep running)"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  instance) shift; link_collection; instance "$@" ;;
  standin-context) shift; install_packages; standin_context "$@" ;;
  # Separate Debian hosts reached over SSH (lab/fleet_hosts.py; docs/lab.md "The fleet"). The fleet's registry
  # mirrors this lab's, so `fleet up` sets the lab up first.
  fleet)
    shift
    if [ "${1:-}" = up ]; then up; fi
    python_env
    exec "$REPO/.venv/bin/python" "$REPO/lab/fleet_hosts.py" "$@" ;;
  *) echo "usage: $0 up | down | instance NAME VERSION API_PORT | standin-context DIR | fleet up N | fleet down | fleet status" >&2
     exit 64 ;;
esac
