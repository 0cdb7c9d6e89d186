# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of the diagnostics modules (module_utils/_troubleshoot/catalogue.py COLLECT_EXCERPTS_OPTION).
    DOCUMENTATION = r"""
options:
  collect_excerpts:
    description:
      - Also return redacted excerpts (logs, environment, facts) for a support bundle (RV(excerpts)), which
        M(gitlab_duo.self_hosted.troubleshoot_report) packs with O(gitlab_duo.self_hosted.troubleshoot_report#module:bundle=true).
    type: bool
    default: false
"""

    # module_utils/_troubleshoot/catalogue.py SECRETS_OPTION.
    SECRETS = r"""
options:
  secrets:
    description:
      - Secret values the play knows (model API keys, API tokens, the EAB key) that must appear nowhere in what the
        module returns or writes; every string is scrubbed of them, literal, JSON-escaped or URL-encoded, on top
        of the redaction of everything shaped like a credential.
    type: list
    elements: str
    default: []
"""
