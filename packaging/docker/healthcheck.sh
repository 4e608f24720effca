#!/bin/bash
# Container health check without curl or wget: GET /healthz from wsgate's
# admin endpoint over bash's /dev/tcp; healthy only on an HTTP 200.
#   healthcheck [HOST:PORT [PATH]]   (default 127.0.0.1:9090 /healthz)
# WSGATE_ADMIN and WSGATE_HEALTH_PATH may set them too.
set -u
addr=${1:-${WSGATE_ADMIN:-127.0.0.1:9090}}
path=${2:-${WSGATE_HEALTH_PATH:-/healthz}}
host=${addr%:*}
port=${addr##*:}
host=${host#[}
host=${host%]}

if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
	echo "unhealthy: cannot connect to $addr" >&2
	exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' \
    "$path" "$addr" >&3 || exit 1
IFS= read -r -t 4 status <&3 || exit 1
case "$status" in
"HTTP/1."[01]" 200"*) exit 0 ;;
*) echo "unhealthy: ${status%$'\r'}" >&2; exit 1 ;;
esac
