#!/bin/sh
# Soak the release daemon: sh tests/soak/run.sh   (SOAK_SECONDS=600 default)
# Builds ./wsgate first if it is missing. See tests/soak/soak.py.
set -e
cd "$(dirname "$0")/../.."
[ -x "${WSGATE_RELEASE_BIN:-./wsgate}" ] || make --no-print-directory all
exec /usr/bin/python3 tests/soak/soak.py "$@"
