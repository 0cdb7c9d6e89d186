#!/bin/sh
# One HTTP request on stdin, one answer on stdout; access log on stderr (the container log).
read -r method path _proto
path=$(printf '%s' "$path" | tr -d '\r')
# FastAPI routes on the path alone; the query string only carries the stand-in's stream knobs.
route=${path%%\?*}
query=${path#"$route"}
query=${query#\?}
length=0
auth=""
forwarded=""
while IFS= read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
  case "$line" in
    [Cc]ontent-[Ll]ength:*) length=$(printf '%s' "${line#*:}" | tr -d ' ') ;;
    [Aa]uthorization:*) auth="${line#*:}" ;;
    [Xx]-[Ff]orwarded-[Ff]or:*) forwarded="${line#*:}" ;;
  esac
done
body=""
[ "$length" -gt 0 ] 2>/dev/null && body=$(head -c "$length")

respond() {
  printf 'HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$1" "${#2}" "$2"
  echo "{\"logger\":\"api.access\",\"method\":\"$method\",\"path\":\"$path\",\"status\":\"${1%% *}\"}" >&2
}

query_param() {  # query_param NAME: its value in the query string (empty when absent)
  printf '%s' "$query" | tr '&' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# POST /v1/chat/agent with "stream": true. The gateway (ai_gateway/api/v1/chat/agent.py, _handle_stream, and
# StreamChatResponse in ai_gateway/api/v1/chat/typing.py) answers 200 with a StreamingResponse of media type
# text/event-stream whose body is the model's text pieces as they come (no "data:" framing), sent by uvicorn
# with Transfer-Encoding: chunked. The stand-in sends standin_chunks pieces ("chunk I/N" lines, default 5)
# spread over standin_seconds (default 1, at most 120), then the line "end of stream: N chunks".
stream_chat() {
  chunks=$(query_param standin_chunks)
  seconds=$(query_param standin_seconds)
  chunks=${chunks:-5}
  seconds=${seconds:-1}
  case "$chunks$seconds" in *[!0-9]*)
    respond "422 Unprocessable Entity" '{"detail":"standin_chunks and standin_seconds must be whole numbers"}'
    return ;;
  esac
  if [ "$chunks" -lt 1 ] || [ "$chunks" -gt 1000 ] || [ "$seconds" -gt 120 ]; then
    respond "422 Unprocessable Entity" '{"detail":"standin_chunks must be 1-1000 and standin_seconds 0-120"}'
    return
  fi
  pause=$((seconds * 1000000 / chunks))
  # A write to a closed connection then fails instead of killing the handler; socat sends its handler SIGTERM
  # when the client goes away: the next write fails and the access log says so.
  trap '' PIPE TERM
  printf 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
  i=1
  while [ "$i" -le "$chunks" ]; do
    usleep "$pause"
    piece="chunk $i/$chunks
"
    # A client that went away ends the stream, and the access log says so.
    if ! printf '%x\r\n%s\r\n' "${#piece}" "$piece" 2>/dev/null; then
      echo "{\"logger\":\"api.access\",\"method\":\"$method\",\"path\":\"$path\",\"status\":\"200\",\"stream\":\"client disconnected, chunk $i of $chunks not delivered\"}" >&2
      return
    fi
    i=$((i + 1))
  done
  piece="end of stream: $chunks chunks
"
  printf '%x\r\n%s\r\n0\r\n\r\n' "${#piece}" "$piece" 2>/dev/null
  echo "{\"logger\":\"api.access\",\"method\":\"$method\",\"path\":\"$path\",\"status\":\"200\",\"stream\":\"$chunks chunks in ${seconds}s\"}" >&2
}

case "$route" in
  /monitoring/healthz)
    # STANDIN_FAIL_BEHIND_PROXY=true: healthy when asked directly, 503 when asked through a proxy (the request
    # carries X-Forwarded-For): a release that passes its own health gate and then fails behind NGINX.
    if [ "$STANDIN_FAIL_BEHIND_PROXY" = "true" ] && [ -n "$forwarded" ]; then
      STANDIN_HEALTHZ_STATUS="503 Service Unavailable"
    fi
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

case "$method $route" in
  "POST /v1/chat/agent")
    # STANDIN_FAIL_MODEL=true: a release that is healthy (healthz 200, the 401 root) but gets no answer from any
    # model - what the upgrade's model round trip is there to catch before traffic moves.
    if [ "$STANDIN_FAIL_MODEL" = "true" ]; then
      echo '{"level":"error","message":"litellm.APIConnectionError: the model did not answer (STANDIN_FAIL_MODEL)"}' >&2
      respond "500 Internal Server Error" '{"detail":"litellm.APIConnectionError: the model did not answer"}'
      exit 0
    fi
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
    if printf '%s' "$body" | grep -q '"stream" *: *true'; then
      stream_chat
      exit 0
    fi
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
