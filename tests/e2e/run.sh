#!/bin/sh
# make e2e: the browser tests (tests/e2e/e2e.mjs) on Debian 12, against
# ./wsgate (or $WSGATE_BIN). First installs what they need when it is
# missing (as root; otherwise prints the apt-get line): chromium, novnc,
# x11vnc, Xvfb, xsetroot/xlogo/xeyes, NSS tools, openssl, Node.js and npm;
# then playwright-core, pinned by package-lock.json, into
# tests/e2e/node_modules. No browser is ever downloaded: the tests drive
# Debian's /usr/bin/chromium.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

want="chromium novnc x11vnc xvfb x11-xserver-utils x11-apps libnss3-tools openssl"
# Node.js from anywhere (Debian's 18 is enough); Debian's if there is none.
command -v node >/dev/null 2>&1 || want="$want nodejs"
command -v npm >/dev/null 2>&1 || want="$want npm"
# shellcheck disable=SC2086 # one word per package
sh "$root/packaging/install-deps.sh" only $want

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
	echo "the browser tests need Node.js 18 or later (found $(node --version))" >&2
	exit 1
fi

# playwright-core as locked; reinstalled only when absent or stale.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if ! (cd "$here" && node -e '
	const want = require("./package-lock.json")
	    .packages["node_modules/playwright-core"].version;
	const have = require("./node_modules/playwright-core/package.json").version;
	process.exit(want === have ? 0 : 1);' 2>/dev/null); then
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

cd "$root"
# e2e.mjs bounds itself (240 s); this is the backstop.
exec timeout -k 10 300 node "$here/e2e.mjs"
