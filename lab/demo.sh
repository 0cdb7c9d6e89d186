#!/usr/bin/env bash
# The main job on the local lab: set the lab up, install the AI Gateway for the GitLab stand-in with
# playbooks/install.yml (verified from every side), troubleshoot it with playbooks/troubleshoot.yml, and print
# both summaries (also in duo-reports/).
#   lab/demo.sh --fleet: the same over SSH on a fleet of separate hosts (lab/fleet_demo.py, docs/lab.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lab/lab.sh up
if [ "${1:-}" = --fleet ]; then
  shift
  exec .venv/bin/python lab/fleet_demo.py "$@"
fi
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
.venv/bin/ansible-playbook -i lab/inventory.yml playbooks/install.yml "$@"
.venv/bin/ansible-playbook -i lab/inventory.yml playbooks/troubleshoot.yml "$@"
echo
cat duo-reports/install-summary.md
echo
cat duo-reports/troubleshoot/fleet.md
