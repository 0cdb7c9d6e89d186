#!/bin/sh
# Start-up of the gateway stand-in: log like the gateway, then serve HTTP with a shell router.
port="${AIGW_FASTAPI__API_PORT:-5052}"
# The address the gateway's uvicorn binds: ai_gateway/main.py run_app() passes config.fastapi.api_host
# (ai_gateway/config.py ConfigFastApi.api_host, default "0.0.0.0"; env AIGW_FASTAPI__API_HOST) to uvicorn.run(host=).
host="${AIGW_FASTAPI__API_HOST:-0.0.0.0}"
log() { echo "{\"level\":\"$1\",\"logger\":\"main\",\"message\":\"$2\",\"version\":\"$STANDIN_GATEWAY_VERSION\"}"; }
log info "Starting AI gateway stand-in $STANDIN_GATEWAY_VERSION on $host:$port"
if [ "$STANDIN_FAIL_START" = "true" ]; then
  log error "RuntimeError: stand-in told to fail at start-up (STANDIN_FAIL_START=true)"
  exit 1
fi
[ "$AIGW_CUSTOM_MODELS__ENABLED" = "true" ] || log warning "AIGW_CUSTOM_MODELS__ENABLED is not true: self-hosted models are disabled"
[ -n "$AIGW_SELF_SIGNED_JWT__SIGNING_KEY" ] || log warning "AIGW_SELF_SIGNED_JWT__SIGNING_KEY is empty: Token creation failed"
[ "$AIGW_AUTH__BYPASS_EXTERNAL" = "true" ] && log warning "Authentication is bypassed (AIGW_AUTH__BYPASS_EXTERNAL=true)"
case "$host" in
  *:*) listen="TCP6-LISTEN:$port,bind=[$host],ipv6only=1" ;;  # an IPv6 address, as uvicorn binds it
  *) listen="TCP4-LISTEN:$port,bind=$host" ;;
esac
log info "Application startup complete"
# socat forks a handler per connection (fork) and goes back to accept(), so connections are served concurrently:
# a long stream does not hold up health checks or other requests. The handler's stderr is the container log.
exec socat "$listen,reuseaddr,fork,backlog=64" EXEC:"/bin/sh /standin/handler.sh"
