"""HTTP stand-in for one GitLab instance's API, sharing state.json with the Ruby stubs.

Serves /api/v4/version, /api/v4/metadata, /api/v4/application/settings (GET/PUT) and
/api/graphql (duoSettings query, duoSettingsUpdate mutation). The admin token is in
state.json ("admin_token"); any other token gets 401, as GitLab answers.
Usage: python3 api.py HOME PORT [ADDRESS]   (ADDRESS: 127.0.0.1 unless given; a fleet host's own address)
"""

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


class Instance:
    def __init__(self, home):
        self.home = home

    def version(self):
        with open(os.path.join(self.home, "VERSION")) as handle:
            return handle.read().strip()

    def load(self):
        with open(os.path.join(self.home, "state.json")) as handle:
            return json.load(handle)

    def save(self, state):
        path = os.path.join(self.home, "state.json")
        with open(path + ".api", "w") as handle:
            json.dump(state, handle, indent=2)
        os.replace(path + ".api", path)

    def table(self):
        major, minor = (int(part) for part in re.split(r"[.-]", self.version())[:2])
        return "application_settings" if (major, minor) >= (19, 2) else "ai_settings"


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
        if not self.authorised(state):
            return
        path = urlparse(self.path).path
        if path in ("/api/v4/version", "/api/v4/metadata"):
            version = self.instance.version()
            return self.reply(200, {"version": version, "revision": "standin", "enterprise": version.endswith("-ee")})
        if path == "/api/v4/application/settings":
            settings = state.get(self.instance.table(), {})
            return self.reply(200, {"enabled_expanded_logging": bool(settings.get("enabled_instance_verbose_ai_logs"))})
        return self.reply(404, {"message": "404 Not Found"})

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
        query = request.get("query", "")
        settings = state.setdefault(self.instance.table(), {})
        errors = []
        if "duoSettingsUpdate" in query:
            values = (request.get("variables") or {}).get("input") or {}
            for field, column in GRAPHQL_FIELDS.items():
                if field in values:
                    value = values[field]
                    if field == "aiGatewayUrl" and value:
                        value = value.rstrip("/")
                        if not re.match(r"^https?://[^/\s]+", value):
                            errors.append("Ai gateway url is not a valid URL")
                    settings[column] = value
            if not errors:
                self.instance.save(state)
            duo = {field: settings.get(column) for field, column in GRAPHQL_FIELDS.items()}
            return self.reply(200, {"data": {"duoSettingsUpdate": {"duoSettings": duo, "errors": errors}}})
        if "duoSettings" in query:
            duo = {field: settings.get(column) for field, column in GRAPHQL_FIELDS.items()}
            return self.reply(200, {"data": {"duoSettings": duo}})
        return self.reply(200, {"errors": [{"message": "Field not known to the stand-in"}]})


def main():
    home, port = sys.argv[1], int(sys.argv[2])
    address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    Handler.instance = Instance(home)
    ThreadingHTTPServer((address, port), Handler).serve_forever()


if __name__ == "__main__":
    main()
