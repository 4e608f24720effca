#!/bin/sh
# `make run`: start the demo backends, then wsgate in the foreground on the
# given config. Ctrl-C stops both.
set -eu
bin=${1:-./wsgate}
conf=${2:-gateway.conf}
python3 demo/echo_backend.py &
demo=$!
trap 'kill $demo 2>/dev/null || true' EXIT INT TERM
sleep 0.3
cat <<MSG

  wsgate is starting on ws://127.0.0.1:8080 (config: $conf).
  In a browser: http://127.0.0.1:8080/ (a demo page talking to both routes).
  In another terminal:
    python3 -m websockets ws://127.0.0.1:8080/echo     # type a line, get it back
    python3 -m websockets ws://127.0.0.1:8080/shout    # lines come back in capitals
  (python3-websockets is installed by make run). Ctrl-C here stops it all.

MSG
"$bin" -d -c "$conf"
