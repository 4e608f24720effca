#!/bin/sh
# Install Debian 12 packages wsgate needs, as root; a no-op when present.
# Not root: prints the apt-get line to run and fails.
#   install-deps.sh build [PKG...]  libevent, OpenSSL, inih, libsystemd, ...
#   install-deps.sh test  [PKG...]  + cmocka, pytest, the WebSocket clients,
#                                     clang, valgrind, ... (make test)
#   install-deps.sh only  PKG...    just these (make e2e, make deb)
set -eu
build="build-essential pkg-config libevent-dev libssl-dev libinih-dev libsystemd-dev libcrypt-dev libhiredis-dev libjansson-dev zlib1g-dev python3-websockets"
test="libcmocka-dev novnc x11vnc xvfb bc node-ws python3-pytest python3-websocket python3-prometheus-client python3-yaml python3-jwt python3-cryptography clang openssl man-db dpkg-dev debhelper fakeroot iproute2 util-linux valgrind haproxy redis-server redis-tools apache2-utils nginx faketime strace"
case "${1:-build}" in
build) want="$build" ;;
test) want="$build $test" ;;
only) want="" ;;
*) echo "usage: install-deps.sh build|test|only [PKG...]" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift
want="$want $*"
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "wsgate needs these Debian packages:$missing" >&2
	echo "run as root:  apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $missing
