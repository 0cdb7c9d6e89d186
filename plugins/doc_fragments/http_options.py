# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The HTTP(S) options of every module that makes requests (module_utils/_http.py HTTP_OPTIONS).
    DOCUMENTATION = r"""
options:
  validate_certs:
    description: Verify the server's TLS certificate. Turn it off only for a test.
    type: bool
    default: true
  ca_path:
    description: CA bundle (PEM) to verify the server's certificate with; the system's CA store otherwise.
    type: path
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 30
requirements:
  - requests
"""
