"""HTTP stand-in for one GitLab instance's API, sharing state.json with the Ruby stubs.

Serves /api/v4/version, /api/v4/metadata, /api/v4/projects (anonymous: the public projects, as GitLab does),
/api/v4/application/settings (GET/PUT) and /api/graphql (duoSettings query, duoSettingsUpdate mutation). The admin
token is in state.json ("admin_token"); any other token gets 401, as GitLab answers.

GraphQL has the schema of the instance's version (ee/app/graphql/types/ai/duo_settings/duo_settings_type.rb and
ee/app/graphql/mutations/ai/duo_settings/update.rb, read at 18.9.0-pre: the type and the mutation appear in 17.9,
each field with its release), and refuses an unknown field or argument with GraphQL's error for the whole
request. The mutation is refused unless the caller passes manage_self_hosted_models_settings
(ee/app/policies/ee/global_policy.rb: admin, the license's self_hosted_models feature, an active Duo Enterprise or
DAP self-hosted add-on, no Amazon Q connection). GET application/settings carries enabled_expanded_logging only
when the license has AI features (ee/lib/ee/api/entities/application_setting.rb).
Usage: python3 api.py HOME PORT [ADDRESS]   (ADDRESS: 127.0.0.1 unless given; a fleet host's own address)
"""

import base64
import hashlib
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

AI_COLUMNS = ("ai_gateway_url", "ai_gateway_timeout_seconds", "duo_agent_platform_service_url",
              "enabled_instance_verbose_ai_logs")
GRAPHQL_FIELDS = {"aiGatewayUrl": "ai_gateway_url", "aiGatewayTimeoutSeconds": "ai_gateway_timeout_seconds",
                  "duoAgentPlatformServiceUrl": "duo_agent_platform_service_url"}
# DuoSettings fields and DuoSettingsUpdateInput arguments, with the release that added each.
TYPE_FIELDS = {"aiGatewayUrl": (17, 9), "updatedAt": (17, 9), "duoCoreFeaturesEnabled": (18, 0),
               "duoAgentPlatformServiceUrl": (18, 4), "aiGatewayTimeoutSeconds": (18, 6)}
INPUT_ARGUMENTS = {"aiGatewayUrl": (17, 9), "duoCoreFeaturesEnabled": (18, 0), "duoAgentPlatformServiceUrl": (18, 4),
                   "aiGatewayTimeoutSeconds": (18, 6)}
SELF_HOSTED_ARGUMENTS = {"aiGatewayUrl": "ai_gateway_url", "duoAgentPlatformServiceUrl": "duo_agent_platform_service_url",
                         "aiGatewayTimeoutSeconds": "ai_gateway_timeout_seconds"}
DEFAULT_LICENSE = {"plan": "ultimate", "features": ["code_suggestions", "self_hosted_models", "ai_features"]}


class Instance:
    def __init__(self, home):
        self.home = home

    def version(self):
        with open(os.path.join(self.home, "VERSION")) as handle:
            return handle.read().strip()

    def load(self):
        with open(os.path.join(self.home, "state.json")) as handle:
            state = json.load(handle)
        # 19.3's RestoreAiInfrastructureSettingsFromAiSettings (as GitlabStandin.migrate! in standin.rb).
        if self.release() >= (19, 3) and "restore_ai_infrastructure_settings" not in state.get("migrations", []):
            source, target = state.get("ai_settings") or {}, state.setdefault("application_settings", {})
            for column in AI_COLUMNS:
                if source.get(column) is not None and target.get(column) in (None, 60 if column.endswith("seconds") else None):
                    target[column] = source[column]
            state.setdefault("migrations", []).append("restore_ai_infrastructure_settings")
            self.save(state)
        return state

    def save(self, state):
        path = os.path.join(self.home, "state.json")
        with open(path + ".api", "w") as handle:
            json.dump(state, handle, indent=2)
        os.replace(path + ".api", path)

    def release(self):
        major, minor = (int(part) for part in re.split(r"[.-]", self.version())[:2])
        return major, minor

    def table(self):
        return "application_settings" if self.release() >= (19, 2) else "ai_settings"

    def has(self, since):
        return self.release() >= since

    def may_manage_self_hosted(self, state):
        """manage_self_hosted_models_settings for the admin token's user."""
        license_features = (state.get("license") or DEFAULT_LICENSE).get("features") or []
        add_ons = state.get("add_ons", ["duo_enterprise"])
        return ("self_hosted_models" in license_features and not state.get("amazon_q_connected")
                and bool({"duo_enterprise", "duo_agent_platform_self_hosted"} & set(add_ons)))


class Handler(BaseHTTPRequestHandler):
    instance = None

    def log_message(self, fmt, *args):
        sys.stderr.write("api: " + fmt % args + "\n")

    def reply(self, status, body):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def authorised(self, state):
        token = self.headers.get("PRIVATE-TOKEN") or (self.headers.get("Authorization") or "")[len("Bearer "):]
        if token and token == state.get("admin_token"):
            return True
        self.reply(401, {"message": "401 Unauthorized"})
        return False

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if "json" in (self.headers.get("Content-Type") or ""):
            return json.loads(raw or b"{}")
        return {key: values[-1] for key, values in parse_qs(raw.decode()).items()}

    def do_GET(self):
        state = self.instance.load()
        path = urlparse(self.path).path
        if path == "/api/v4/ai/duo_workflows/ws":
            return self.websocket()
        if path == "/api/v4/projects" and not (self.headers.get("PRIVATE-TOKEN") or self.headers.get("Authorization")):
            return self.reply(200, [])
        if not self.authorised(state):
            return
        if path in ("/api/v4/version", "/api/v4/metadata"):
            version = self.instance.version()
            return self.reply(200, {"version": version, "revision": "standin", "enterprise": version.endswith("-ee")})
        if path == "/api/v4/application/settings":
            settings = state.get(self.instance.table(), {})
            body = {"id": 1, "signup_enabled": True}
            if "ai_features" in ((state.get("license") or DEFAULT_LICENSE).get("features") or []):
                body["enabled_expanded_logging"] = bool(settings.get("enabled_instance_verbose_ai_logs"))
            return self.reply(200, body)
        return self.reply(404, {"message": "404 Not Found"})

    def websocket(self):
        """The Duo Agent Platform's WebSocket (api/v4/ai/duo_workflows/ws), as the verify task's
        AgentPlatformWebsocketCheck sees it (ee/lib/gitlab/duo/administration/agent_platform_websocket_check.rb):
        101 Switching Protocols for an upgrade request with a token, 401 without the token, and 400 for a request
        whose Upgrade/Connection headers a proxy dropped (its spec's not-upgraded example). The connection is
        closed after the handshake: the check reads only the status line and headers."""
        if (self.headers.get("Authorization") or "") != "Bearer standin-duo-workflow-oauth-token":
            return self.reply(401, {"message": "401 Unauthorized"})
        upgrade = (self.headers.get("Upgrade") or "").lower() == "websocket"
        connection = "upgrade" in (self.headers.get("Connection") or "").lower()
        if not (upgrade and connection):
            return self.reply(400, {"message": "400 Bad request - not a WebSocket upgrade"})
        accept = base64.b64encode(hashlib.sha1((self.headers.get("Sec-WebSocket-Key", "") +
                                                "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.close_connection = True
        return None

    def do_PUT(self):
        state = self.instance.load()
        if not self.authorised(state):
            return
        if urlparse(self.path).path != "/api/v4/application/settings":
            return self.reply(404, {"message": "404 Not Found"})
        body = self.body()
        settings = state.setdefault(self.instance.table(), {})
        if "enabled_expanded_logging" in body:
            settings["enabled_instance_verbose_ai_logs"] = str(body["enabled_expanded_logging"]).lower() == "true"
            self.instance.save(state)
        return self.reply(200, {"enabled_expanded_logging": bool(settings.get("enabled_instance_verbose_ai_logs"))})

    def do_POST(self):
        state = self.instance.load()
        if not self.authorised(state):
            return
        if urlparse(self.path).path != "/api/graphql":
            return self.reply(404, {"message": "404 Not Found"})
        request = self.body()
        return self.reply(200, self.graphql(state, request.get("query", ""), request.get("variables") or {}))

    def graphql(self, state, query, variables):
        """A GraphQL answer for the two operations the stand-in knows, validated against the version's schema."""
        instance = self.instance
        settings = state.setdefault(instance.table(), {})
        mutation = re.match(r"\s*mutation\b", query) is not None
        root = "duoSettingsUpdate" if mutation else "duoSettings"
        if root not in query or not instance.has((17, 9)):
            name = re.search(r"\{\s*(\w+)", query)
            return {"errors": [{"message": "Field '{0}' doesn't exist on type '{1}'".format(
                name.group(1) if name else root, "Mutation" if mutation else "Query")}]}
        block = re.search(r"duoSettings\s*\{([^{}]*)\}", query)
        fields = block.group(1).split() if block else []
        unknown = [field for field in fields if field not in TYPE_FIELDS or not instance.has(TYPE_FIELDS[field])]
        if unknown:
            return {"errors": [{"message": "Field '{0}' doesn't exist on type 'DuoSettings'".format(field),
                                "locations": [{"line": 1, "column": query.index(field) + 1}],
                                "path": ["query" if not mutation else "mutation", root, "duoSettings", field],
                                "extensions": {"code": "undefinedField", "typeName": "DuoSettings",
                                               "fieldName": field}} for field in unknown]}
        errors = []
        if mutation:
            values = variables.get("input") or {}
            bad = [key for key in values if key not in INPUT_ARGUMENTS or not instance.has(INPUT_ARGUMENTS[key])]
            if bad:
                return {"errors": [{"message": "Variable $input of type DuoSettingsUpdateInput! was provided invalid "
                                               "value for {0} (Field is not defined on DuoSettingsUpdateInput)".format(
                                                   key),
                                    "extensions": {"problems": [{"path": [key],
                                                                 "explanation": "Field is not defined on "
                                                                                "DuoSettingsUpdateInput"}]}}
                                   for key in bad]}
            for key in values:
                if key in SELF_HOSTED_ARGUMENTS and not instance.may_manage_self_hosted(state):
                    return {"data": {"duoSettingsUpdate": None},
                            "errors": [{"message": "You don't have permission to update the setting {0}.".format(
                                SELF_HOSTED_ARGUMENTS[key]), "path": ["duoSettingsUpdate"]}]}
            for field, column in GRAPHQL_FIELDS.items():
                if field not in values:
                    continue
                value = values[field]
                if field in ("aiGatewayUrl", "duoAgentPlatformServiceUrl") and value is not None:
                    value = value.rstrip("/") or None  # permitted_params: chomp('/').presence
                if field == "aiGatewayUrl" and value and not re.match(r"^https?://[^/\s]+", value):
                    errors.append("Ai gateway url is not a valid URL")
                if field == "aiGatewayTimeoutSeconds" and value is not None and not 60 <= int(value) <= 600:
                    errors.append("Ai gateway timeout seconds must be between 60 and 600")
                settings[column] = value
            if not errors:
                instance.save(state)
            else:
                settings = instance.load().get(instance.table(), {})
        duo = {}
        for field in fields:
            if field == "updatedAt":
                duo[field] = "2026-11-23T00:00:00Z"
            elif field == "duoCoreFeaturesEnabled":
                duo[field] = bool(settings.get("duo_core_features_enabled"))
            else:
                value = settings.get(GRAPHQL_FIELDS[field])
                duo[field] = 60 if value is None and field == "aiGatewayTimeoutSeconds" else value
        if mutation:
            return {"data": {"duoSettingsUpdate": {"duoSettings": duo, "errors": errors}}}
        return {"data": {"duoSettings": duo}}


def main():
    home, port = sys.argv[1], int(sys.argv[2])
    address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    Handler.instance = Instance(home)
    ThreadingHTTPServer((address, port), Handler).serve_forever()


if __name__ == "__main__":
    main()
