#!/bin/sh
# The release daemon under valgrind memcheck: sh tests/valgrind/run.sh
# Installs valgrind (Debian, as root) and builds ./wsgate if missing.
set -e
cd "$(dirname "$0")/../.."
if ! command -v valgrind >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y --no-install-recommends valgrind
	else
		echo "valgrind is missing: apt-get install valgrind" >&2
		exit 1
	fi
fi
[ -x "${WSGATE_RELEASE_BIN:-./wsgate}" ] || make --no-print-directory all
WSGATE_RELEASE_BIN="${WSGATE_RELEASE_BIN:-$PWD/wsgate}" \
	exec /usr/bin/python3 -m pytest -q tests/valgrind "$@"
