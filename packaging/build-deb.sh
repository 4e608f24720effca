#!/bin/sh
# Build the wsgate .deb with dpkg-buildpackage; leaves it in build/deb/.
#   sh packaging/build-deb.sh
# Copies the tree to a scratch directory with packaging/debian/ as debian/,
# so the work tree is never touched. As root, installs missing build
# dependencies first; otherwise prints the apt-get line. DEB_BUILD_OPTIONS
# passes through (nocheck skips the unit tests).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/deb"

want="build-essential dpkg-dev debhelper fakeroot pkg-config libevent-dev libssl-dev libinih-dev"
case "${DEB_BUILD_OPTIONS:-}" in
*nocheck*) ;;
*) want="$want libcmocka-dev" ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "building the .deb needs:$missing" >&2
		echo "run as root:  apt-get install -y$missing" >&2
		exit 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086 # one word per package
	apt-get install -y -q --no-install-recommends $missing
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/wsgate-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
src="$work/wsgate"
mkdir "$src"
# The tree as it is (committed or not), without build output.
(cd "$top" && tar -cf - --exclude=./.git --exclude=./build \
    --exclude=./wsgate --exclude=./tests/fuzz/build \
    --exclude=__pycache__ --exclude=.pytest_cache .) |
	(cd "$src" && tar -xf -)
rm -rf "$src/debian"
cp -R "$src/packaging/debian" "$src/debian"
(cd "$src" && dpkg-buildpackage -us -uc -b)

mkdir -p "$out"
rm -f "$out"/wsgate_*
cp "$work"/wsgate_*.deb "$work"/wsgate_*.buildinfo "$work"/wsgate_*.changes \
    "$out"/
ls -l "$out"/wsgate_*.deb
