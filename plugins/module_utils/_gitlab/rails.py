# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running Ruby through ``gitlab-rails runner`` (private to gitlab_duo.self_hosted).

Every Rails boot costs 30-60 s on a real GitLab, so a module sends ONE script that does all its
work and prints a single marked JSON line. Values go in base64-encoded JSON, so no user input is
ever spliced into Ruby source.
"""

from __future__ import annotations

import base64
import json

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

RESULT_MARKER = "GITLAB_DUO_RESULT "
OMNIBUS_RAILS = ["gitlab-rails"]

# Wraps the body: `request` holds the decoded input; the body returns a Hash, printed as the result.
_ENVELOPE = """require 'json'
require 'base64'
request = JSON.parse(Base64.strict_decode64('{payload}'))
begin
  result = begin
{body}
  end
  puts '{marker}' + JSON.generate(result.merge('ok' => true))
rescue StandardError => e
  puts '{marker}' + JSON.generate('ok' => false, 'error' => "#{{e.class}}: #{{e.message}}")
  exit 1
end
"""


def script(body, request):
    payload = base64.b64encode(json.dumps(request).encode("utf-8")).decode("ascii")
    indented = "\n".join("    " + line if line else line for line in body.strip("\n").splitlines())
    return _ENVELOPE.format(payload=payload, body=indented, marker=RESULT_MARKER)


def parse_output(rc, stdout, stderr, command):
    """The JSON the script printed; DuoError with the Rails error or the command's output otherwise."""
    result = None
    for line in (stdout or "").splitlines():
        if line.startswith(RESULT_MARKER):
            result = json.loads(line[len(RESULT_MARKER):])
    if result is None:
        tail = "\n".join(((stderr or "") + "\n" + (stdout or "")).strip().splitlines()[-15:])
        raise DuoError("`{0} runner` printed no result (exit code {1}). Fix: check that the command prefix "
                       "reaches gitlab-rails on this host (Omnibus: gitlab-rails; Docker: docker exec -i "
                       "<container> gitlab-rails; Kubernetes: kubectl exec in the toolbox pod). Output: {2}".format(
                           " ".join(command), rc, tail or "(none)"), rc=rc)
    if not result.get("ok"):
        raise DuoError("GitLab refused the change: {0}".format(result.get("error")), rails_error=result.get("error"))
    return result


def run(run_command, prefix, body, request, secret=None):
    """Run ``body`` via ``prefix + ['runner', <script>]`` with the module's run_command.

    ``secret`` goes to the runner's standard input (the script reads it with ``$stdin.gets``), never into the
    command line, where ``ps`` and process accounting would show it; ``docker exec -i`` and ``kubectl exec -i``
    pass it on.
    """
    command = list(prefix or OMNIBUS_RAILS) + ["runner", script(body, request)]
    if secret is None:
        rc, stdout, stderr = run_command(command)
    else:
        rc, stdout, stderr = run_command(command, data=secret)
    return parse_output(rc, stdout, stderr, list(prefix or OMNIBUS_RAILS))
