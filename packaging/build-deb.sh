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

# The build side of wsgate plus the packaging tools (cmocka for the
# package's own unit-test run unless nocheck).
check=libcmocka-dev
case "${DEB_BUILD_OPTIONS:-}" in
*nocheck*) check= ;;
esac
# shellcheck disable=SC2086 # check is one word or none
sh "$top/packaging/install-deps.sh" build dpkg-dev debhelper fakeroot $check

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
