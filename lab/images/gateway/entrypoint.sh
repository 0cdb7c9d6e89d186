#!/bin/sh
# Start-up of the gateway stand-in: log like the gateway, then serve HTTP with a shell router.
port="${AIGW_FASTAPI__API_PORT:-5052}"
log() { echo "{\"level\":\"$1\",\"logger\":\"main\",\"message\":\"$2\",\"version\":\"$STANDIN_GATEWAY_VERSION\"}"; }
log info "Starting AI gateway stand-in $STANDIN_GATEWAY_VERSION on port $port"
if [ "$STANDIN_FAIL_START" = "true" ]; then
  log error "RuntimeError: stand-in told to fail at start-up (STANDIN_FAIL_START=true)"
  exit 1
fi
[ "$AIGW_CUSTOM_MODELS__ENABLED" = "true" ] || log warning "AIGW_CUSTOM_MODELS__ENABLED is not true: self-hosted models are disabled"
[ -n "$AIGW_SELF_SIGNED_JWT__SIGNING_KEY" ] || log warning "AIGW_SELF_SIGNED_JWT__SIGNING_KEY is empty: Token creation failed"
[ "$AIGW_AUTH__BYPASS_EXTERNAL" = "true" ] && log warning "Authentication is bypassed (AIGW_AUTH__BYPASS_EXTERNAL=true)"
log info "Application startup complete"
# With -ll and -e, busybox nc (networking/nc.c) forks a handler per connection and goes back to accept(), so
# connections are served concurrently: a long stream does not hold up health checks or other requests.
exec nc -ll -p "$port" -e /bin/sh /standin/handler.sh
