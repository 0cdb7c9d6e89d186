#!/bin/sh
# One HTTP request on stdin, one answer on stdout; access log on stderr (the container log).
read -r method path _proto
path=$(printf '%s' "$path" | tr -d '\r')
length=0
auth=""
while IFS= read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
  case "$line" in
    [Cc]ontent-[Ll]ength:*) length=$(printf '%s' "${line#*:}" | tr -d ' ') ;;
    [Aa]uthorization:*) auth="${line#*:}" ;;
  esac
done
body=""
[ "$length" -gt 0 ] 2>/dev/null && body=$(head -c "$length")

respond() {
  printf 'HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$1" "${#2}" "$2"
  echo "{\"logger\":\"api.access\",\"method\":\"$method\",\"path\":\"$path\",\"status\":\"${1%% *}\"}" >&2
}

case "$path" in
  /monitoring/healthz)
    if [ -n "$STANDIN_HEALTHZ_STATUS" ]; then
      echo "{\"level\":\"error\",\"message\":\"health check failing: $STANDIN_HEALTHZ_STATUS\"}" >&2
      respond "$STANDIN_HEALTHZ_STATUS" '{"status":"unhealthy"}'
    else
      respond "200 OK" '{"status":"ok"}'
    fi
    exit 0 ;;
esac

if [ -z "$auth" ] && [ "$AIGW_AUTH__BYPASS_EXTERNAL" != "true" ]; then
  respond "401 Unauthorized" '{"error":"No authorization header presented"}'
  exit 0
fi

case "$method $path" in
  "POST /v1/chat/agent")
    model=$(printf '%s' "$body" | sed -n 's/.*"model" *: *"\([^"]*\)".*/\1/p')
    endpoint=$(printf '%s' "$body" | sed -n 's/.*"model_endpoint" *: *"\([^"]*\)".*/\1/p')
    # A model server whose name says "keyed" wants an API key, like a hosted OpenAI-compatible endpoint.
    case "$endpoint" in
      *keyed*)
        if ! printf '%s' "$body" | grep -q '"model_api_key" *: *"[^"]'; then
          echo '{"level":"error","message":"litellm.AuthenticationError: 401 no API key for '"$endpoint"'"}' >&2
          respond "401 Unauthorized" '{"detail":"litellm.AuthenticationError: 401 no API key"}'
          exit 0
        fi ;;
    esac
    case "$endpoint" in
      ""|*/v1|*/v1/) ;;
      *)  # an OpenAI-compatible server (vLLM) without /v1 answers 404, and litellm says so
        echo "{\"level\":\"error\",\"message\":\"litellm.NotFoundError: 404 Not Found for $endpoint/chat/completions\"}" >&2
        respond "404 Not Found" '{"detail":"litellm.NotFoundError: 404 Not Found"}'
        exit 0 ;;
    esac
    respond "200 OK" "{\"response\":\"Hello from the AI gateway stand-in\",\"metadata\":{\"provider\":\"litellm\",\"model\":\"${model:-unknown}\",\"timestamp\":$(date +%s)}}" ;;
  "POST /v2/code/generations")
    # What the troubleshoot script's model check asks: a code generation through the model endpoint.
    endpoint=$(printf '%s' "$body" | sed -n 's/.*"model_endpoint" *: *"\([^"]*\)".*/\1/p')
    case "$endpoint" in
      */v1|*/v1/) ;;
      *)
        echo "{\"level\":\"error\",\"message\":\"litellm.NotFoundError: 404 Not Found for $endpoint/chat/completions\"}" >&2
        respond "404 Not Found" '{"detail":"litellm.NotFoundError: 404 Not Found"}'
        exit 0 ;;
    esac
    if ! timeout 10 wget -q -O /dev/null "${endpoint%/}/models" 2>/dev/null &&
       ! timeout 10 wget -O /dev/null "${endpoint%/}/models" 2>&1 | grep -q 'server returned error'; then
      echo "{\"level\":\"error\",\"message\":\"litellm.APIConnectionError: cannot connect to $endpoint\"}" >&2
      respond "500 Internal Server Error" '{"detail":"litellm.APIConnectionError: Connection refused"}'
      exit 0
    fi
    respond "200 OK" '{"choices":[{"text":"print(\"hello\")","index":0,"finish_reason":"length"}]}' ;;
  *)
    respond "404 Not Found" '{"detail":"Not Found"}' ;;
esac
