# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS in front of the gateway (private to gitlab_duo.self_hosted): certificates, ACME issuance, the proxy's managed
certificate, NGINX in a container or from host packages, and what a TLS server presents. Imports only the base floor."""
