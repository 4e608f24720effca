#!/bin/sh
# Install what wsgate needs on Debian 12, as root; a no-op when present.
#   install-deps.sh build   compiler side: libevent, OpenSSL, inih, pkg-config
#   install-deps.sh test    + cmocka, pytest, websockets clients, clang
set -eu
want="build-essential pkg-config libevent-dev libssl-dev libinih-dev libsystemd-dev libcrypt-dev python3-websockets"
case "${1:-build}" in
test) want="$want libcmocka-dev python3-pytest python3-websocket python3-prometheus-client python3-yaml python3-jwt python3-cryptography clang openssl man-db dpkg-dev debhelper fakeroot iproute2 util-linux valgrind" ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "wsgate needs these Debian packages:$missing" >&2
	echo "run as root:  apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
