/*
 * wsgate browser tests: Debian's headless Chromium, driven by playwright-core
 * (never its own browser download), against the real daemon on loopback.
 *
 *   1. ws://  : a page served by wsgate's static root opens WebSockets
 *      through wsgate to TCP backends: binary and text round trips, a
 *      4 MiB sha256-checked transfer, close 1014 when the backend is down,
 *      1000 when the backend closes.
 *   2. wss:// : the same page and checks over a TLS listener whose
 *      certificate comes from a throwaway CA that Chromium trusts (an NSS
 *      database in a private $HOME; no certificate errors are ignored).
 *   3. demo   : the page the default gateway.conf serves at / (demo/www),
 *      with demo/echo_backend.py behind /echo and /shout, over ws:// and
 *      wss://: both boxes connect, a line typed into each comes back (as
 *      sent, in capitals), disconnect shows close 1000, and with the demo
 *      backends stopped a reconnect shows close 1014.
 *   4. noVNC  : Debian's novnc package served from a route root, through
 *      wsgate to x11vnc on Xvfb showing an orange desktop (xsetroot) with
 *      xlogo and xeyes; waits for noVNC to report connected, checks the
 *      canvas shows the colour, takes a screenshot.
 *   4. noVNC's launcher: Debian's /usr/share/novnc/utils/novnc_proxy, run
 *      unchanged with wsgate's websockify command (a link named websockify
 *      in a directory first on PATH, as the package installs it), once
 *      over plain HTTP and once with --cert --key --ssl-only; the same
 *      desktop must show in noVNC.
 *
 * Usage: node tests/e2e/e2e.mjs   (from anywhere; tests/e2e/run.sh installs
 * what it needs first). Environment:
 *   WSGATE_BIN            daemon to test (default: ./wsgate of the tree)
 *   E2E_UPDATE_SCREENSHOT 1: also write docs/novnc.png (it is always
 *                         written to build/e2e/novnc.png, and to docs/ when
 *                         docs/novnc.png does not exist yet)
 *   E2E_KEEP              1: keep the temporary directory
 * Everything listens on 127.0.0.1 (X on a Unix socket only); every wait has
 * a deadline, and all children are killed on exit, whatever happens.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const WSGATE = process.env.WSGATE_BIN || path.join(ROOT, 'wsgate');
const CHROMIUM = '/usr/bin/chromium';
const NOVNC = '/usr/share/novnc';
const LAUNCHER = path.join(NOVNC, 'utils', 'novnc_proxy');
const OUT_DIR = path.join(ROOT, 'build', 'e2e');
const TOTAL_BUDGET_MS = 240000;
const ORANGE = [0xff, 0x88, 0x00];
const MiB = 1048576;

const children = [];
const servers = [];
let browser = null;
let tmp = null;
let failures = 0;
const t0 = Date.now();

function log(...a) {
	console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
}

function check(name, ok, detail) {
	if (!ok)
		failures++;
	console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`);
	return ok;
}

function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

/* Resolve p, or reject after ms with what. */
function deadline(p, ms, what) {
	let t;
	return Promise.race([p, new Promise((_, rej) => {
		t = setTimeout(() => rej(new Error(`timeout (${ms} ms): ${what}`)), ms);
	})]).finally(() => clearTimeout(t));
}

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

/* Wait until 127.0.0.1:port accepts, or the child exits, or ms pass. */
async function waitPort(port, ms, child) {
	const end = Date.now() + ms;
	for (;;) {
		if (child && child.exitCode !== null)
			throw new Error(`${child.spawnargs[0]} exited with ${child.exitCode}`);
		const ok = await new Promise((resolve) => {
			const c = net.connect(port, '127.0.0.1');
			c.once('connect', () => { c.destroy(); resolve(true); });
			c.once('error', () => resolve(false));
		});
		if (ok)
			return;
		if (Date.now() > end)
			throw new Error(`nothing accepts on 127.0.0.1:${port} after ${ms} ms`);
		await sleep(50);
	}
}

/* Start a child, its output to tmp/<name>.log; killed at exit. */
function start(name, cmd, args, opts = {}) {
	const out = fs.openSync(path.join(tmp, `${name}.log`), 'a');
	const stdio = ['ignore', out, out, ...(opts.extraStdio || [])];
	const c = spawn(cmd, args, { stdio, env: opts.env || process.env });
	fs.closeSync(out);
	c.logName = name;
	c.on('error', (e) => log(`${name}: ${e.message}`));
	children.push(c);
	return c;
}

function tail(name, n = 25) {
	try {
		const lines = fs.readFileSync(path.join(tmp, `${name}.log`), 'utf8')
		    .split('\n');
		return lines.slice(-n).join('\n');
	} catch {
		return '(no log)';
	}
}

/* Stop a child: SIGTERM, then SIGKILL after ms. Resolves its exit code. */
function stop(c, ms = 5000) {
	if (c.exitCode !== null || c.signalCode !== null)
		return Promise.resolve(c.exitCode);
	return new Promise((resolve) => {
		const t = setTimeout(() => c.kill('SIGKILL'), ms);
		c.once('exit', (code, sig) => {
			clearTimeout(t);
			resolve(code !== null ? code : sig);
		});
		c.kill('SIGTERM');
	});
}

function killAllNow() {
	for (const c of children)
		if (c.exitCode === null && c.signalCode === null)
			try { c.kill('SIGKILL'); } catch { /* gone */ }
}

function run(cmd, args, opts = {}) {
	return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'],
	    timeout: 20000, ...opts });
}

/* ---- backends ---- */

function tcpServer(onConn) {
	return new Promise((resolve, reject) => {
		const s = net.createServer(onConn);
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			servers.push(s);
			resolve(s.address().port);
		});
	});
}

async function startBackends() {
	const echo = await tcpServer((sock) => {
		sock.on('error', () => {});
		sock.pipe(sock);
	});
	const closer = await tcpServer((sock) => {
		sock.on('error', () => {});
		sock.end('goodbye from the backend');
	});
	const down = await freePort();	/* nothing listens there */
	/* A line service whose lines reach wsgate cut anywhere, multi-byte
	 * characters split between TCP segments (framing = line). */
	const lines = await tcpServer((sock) => {
		sock.on('error', () => {});
		sock.setNoDelay(true);
		const segs = LINE_SEGMENTS.slice();
		const next = () => {
			if (segs.length === 0)
				return sock.end();
			sock.write(segs.shift());
			setTimeout(next, 15);
		};
		next();
	});
	return { echo, closer, down, lines };
}

/* ---- a throwaway CA and a server certificate for 127.0.0.1 ---- */

function makeCerts() {
	const d = path.join(tmp, 'pki');
	fs.mkdirSync(d);
	const f = (n) => path.join(d, n);
	const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
	    '-nodes'];
	run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'),
	    '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=wsgate e2e test CA',
	    '-addext', 'basicConstraints=critical,CA:TRUE',
	    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
	run('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out',
	    f('server.csr'), '-subj', '/CN=127.0.0.1']);
	fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' +
	    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' +
	    'extendedKeyUsage=serverAuth\n');
	run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'),
	    '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'),
	    '-days', '2', '-extfile', f('ext.cnf')]);
	fs.chmodSync(f('server.key'), 0o600);
	fs.chmodSync(f('ca.key'), 0o600);
	/* Chromium on Linux trusts the NSS database under $HOME/.pki/nssdb. */
	const home = path.join(tmp, 'home');
	const db = path.join(home, '.pki', 'nssdb');
	fs.mkdirSync(db, { recursive: true });
	run('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
	run('certutil', ['-A', '-d', `sql:${db}`, '-n', 'wsgate-e2e-ca', '-t',
	    'C,,', '-i', f('ca.pem')]);
	return { cert: f('server.pem'), key: f('server.key'), home };
}

/* ---- X display and VNC server ---- */

/* Xvfb picks a free display itself (-displayfd) and tells us on fd 3. */
async function startX() {
	const x = start('xvfb', 'Xvfb', ['-displayfd', '3', '-screen', '0',
	    '1024x640x24', '-nolisten', 'tcp', '-noreset'],
	    { extraStdio: ['pipe'] });
	const num = await deadline(new Promise((resolve, reject) => {
		let buf = '';
		x.stdio[3].on('data', (d) => {
			buf += d;
			if (buf.includes('\n'))
				resolve(buf.trim());
		});
		x.on('exit', (c) => reject(new Error(`Xvfb exited (${c}): ` +
		    tail('xvfb'))));
	}), 15000, 'Xvfb display number');
	const env = { ...process.env, DISPLAY: `:${num}` };
	run('xsetroot', ['-solid', '#ff8800'], { env });
	start('xlogo', 'xlogo', ['-geometry', '220x220+70+300'], { env });
	start('xeyes', 'xeyes', ['-geometry', '260x180+690+60'], { env });
	return { display: `:${num}`, env };
}

async function startVnc(x) {
	const port = await freePort();
	const v = start('x11vnc', 'x11vnc', ['-display', x.display, '-rfbport',
	    String(port), '-localhost', '-nopw', '-forever', '-shared',
	    '-noxdamage', '-nossl', '-norc', '-noipv6'], { env: x.env });
	await waitPort(port, 15000, v);
	return port;
}

/* What the line service sends, and the messages a browser must see. */
const LINES = ['hello', 'h\u00e9llo w\u00f6rld', '', '\u20ac 12 \u{1F600} tail',
    'crlf line', 'last without newline'];
const LINE_SEGMENTS = [[0x68, 0x65, 0x6c], [0x6c, 0x6f, 0x0a, 0x68, 0xc3],
    [0xa9, 0x6c, 0x6c, 0x6f, 0x20, 0x77], [0xc3],
    [0xb6, 0x72, 0x6c, 0x64, 0x0a, 0x0a, 0xe2], [0x82],
    [0xac, 0x20, 0x31, 0x32, 0x20, 0xf0, 0x9f],
    Buffer.from('\u{98}\u{80}', 'latin1'),
    Buffer.from(' tail\ncrlf line\r'), Buffer.from('\nlast without newline')]
    .map((s) => Buffer.from(s));

/* ---- wsgate ---- */

async function startWsgate(ports, certs) {
	const www = path.join(HERE, 'www');
	const conf = path.join(tmp, 'gateway.conf');
	fs.writeFileSync(conf, `; written by tests/e2e/e2e.mjs
[gateway]
listen             = 127.0.0.1:${ports.http}
listen             = 127.0.0.1:${ports.https} tls
handshake_timeout  = 5s
drain_timeout      = 2s
connect_timeout    = 2s
log_level          = info

[tls]
certificate        = ${certs.cert}
private_key        = ${certs.key}

; the test page and its echo WebSocket share one route tree
[route /t/*]
root               = ${www}
backend            = tcp:127.0.0.1:${ports.echo}

[route /down]
backend            = tcp:127.0.0.1:${ports.down}

[route /closer]
backend            = tcp:127.0.0.1:${ports.closer}

; permessage-deflate to the echo backend; a line service, line framing
[route /deflate]
backend            = tcp:127.0.0.1:${ports.echo}
compression        = on
framing            = text

[route /deflate-bin]
backend            = tcp:127.0.0.1:${ports.echo}
compression        = on

[route /lines]
backend            = tcp:127.0.0.1:${ports.lines}
framing            = line
compression        = on

; the default gateway.conf's demo page and routes (demo/echo_backend.py)
[route /echo]
backend            = tcp:127.0.0.1:${ports.demoEcho}

[route /shout]
backend            = unix:${ports.demoShout}

[route /*]
root               = ${path.join(ROOT, 'demo', 'www')}

; noVNC from Debian's package; its WebSocket is /desk/websockify
[route /desk/*]
root               = ${NOVNC}
index              = vnc.html
backend            = tcp:127.0.0.1:${ports.vnc}
`);
	const g = start('wsgate', WSGATE, ['-d', '-c', conf]);
	await waitPort(ports.http, 10000, g);
	await waitPort(ports.https, 10000, g);
	return g;
}

/* ---- the browser checks ---- */

async function pageChecks(page, base, label) {
	const t = Date.now();
	const resp = await page.goto(`${base}/t/`, { timeout: 15000 });
	check(`${label}: test page served by wsgate`, resp && resp.status() === 200,
	    `${resp && resp.status()} ${resp && resp.headers()['content-type']}`);
	const ev = (fn, ...args) => deadline(page.evaluate(fn, ...args), 90000, fn);

	let r = await ev((p) => checkBinary(p), '/t/ws');
	check(`${label}: binary round trip (512 bytes, every value)`,
	    r.equal && r.closeCode === 1000, JSON.stringify(r));
	r = await ev((p) => checkText(p), '/t/ws');
	check(`${label}: text round trip (UTF-8)`, r.equal, JSON.stringify(r));
	r = await ev(([p, n]) => checkBig(p, n), ['/t/ws', 4 * MiB]);
	check(`${label}: 4 MiB transfer, sha256 checked in the browser`,
	    r.equal && r.received === 4 * MiB,
	    `${r.ms} ms, ${r.mibPerSec} MiB/s round trip, ${r.messages} ` +
	    `messages back, sha256 ${r.got.slice(0, 16)}…`);
	r = await ev((p) => checkClose(p), '/down');
	check(`${label}: backend down -> close 1014`,
	    r.opened && r.code === 1014 && /bad gateway/.test(r.reason),
	    JSON.stringify(r));
	r = await ev((p) => checkClose(p), '/closer');
	check(`${label}: backend closes -> its bytes, then close 1000`,
	    r.code === 1000 && r.wasClean && r.text === 'goodbye from the backend',
	    JSON.stringify(r));
	log(`${label} checks took ${Date.now() - t} ms`);
}

/* permessage-deflate and line framing, seen from the browser's side. */
async function beyondChecks(page, base, label) {
	const ev = (fn, ...args) => deadline(page.evaluate(fn, ...args), 60000, fn);
	const wsBase = base.replace(/^http/, 'ws');
	const r = await ev(async ([u, n]) => {
		const open = (path, bin) => new Promise((ok, ko) => {
			const ws = new WebSocket(u + path);
			if (bin)
				ws.binaryType = 'arraybuffer';
			ws.onopen = () => ok(ws);
			ws.onerror = () => ko(new Error('ws error on ' + path));
		});
		const echo = (ws, msg, len, join) => new Promise((ok) => {
			const got = [];
			let have = 0;
			ws.onmessage = (e) => {
				got.push(e.data);
				have += typeof e.data === 'string' ?
				    new TextEncoder().encode(e.data).length :
				    e.data.byteLength;
				if (have >= len)
					ok(join(got));
			};
			ws.send(msg);
		});
		const out = {};
		let ws = await open('/deflate', false);
		out.extensions = ws.extensions;
		const text = 'd\u00e9j\u00e0 vu \u20ac '.repeat(n / 16);
		const back = await echo(ws, text, new TextEncoder().encode(text)
		    .length, (g) => g.join(''));
		out.text = back === text;
		ws.close(1000);
		ws = await open('/deflate-bin', true);
		out.binExtensions = ws.extensions;
		const bin = new Uint8Array(n);
		for (let i = 0; i < n; i++)
			bin[i] = (i * 31) & 255;
		const bb = await echo(ws, bin, n, (g) => {
			const all = new Uint8Array(n);
			let off = 0;
			for (const b of g) {
				all.set(new Uint8Array(b), off);
				off += b.byteLength;
			}
			return all;
		});
		out.binary = bb.every((v, i) => v === bin[i]);
		ws.close(1000);
		ws = await open('/lines', false);
		out.linesExtensions = ws.extensions;
		out.lines = await new Promise((ok) => {
			const got = [];
			ws.onmessage = (e) => got.push(typeof e.data === 'string' ?
			    e.data : '<binary>');
			ws.onclose = (e) => ok({ got, code: e.code });
		});
		return out;
	}, [wsBase, MiB]);
	check(`${label}: permessage-deflate agreed (ws.extensions)`,
	    /permessage-deflate/.test(r.extensions) &&
	    /permessage-deflate/.test(r.binExtensions), JSON.stringify(r.extensions));
	check(`${label}: compressed text and binary round trips (1 MiB)`,
	    r.text && r.binary, JSON.stringify({ text: r.text, binary: r.binary }));
	check(`${label}: line service: one onmessage per line, in order`,
	    JSON.stringify(r.lines.got) === JSON.stringify(LINES) &&
	    r.lines.code === 1000, JSON.stringify(r.lines));
}

/* The demo backends of `make run`: echo on TCP, shout on a Unix socket. */
async function startDemoBackends() {
	const port = await freePort();
	const sock = path.join(tmp, 'shout.sock');
	const c = start('demo', 'python3', [path.join(ROOT, 'demo',
	    'echo_backend.py'), String(port), sock]);
	await waitPort(port, 10000, c);
	const end = Date.now() + 10000;
	while (!fs.existsSync(sock)) {
		if (Date.now() > end)
			throw new Error(`no ${sock}: ${tail('demo')}`);
		await sleep(50);
	}
	return { child: c, port, sock };
}

/* Type a line into a demo box; resolve what came back (not our echo). */
async function demoSay(page, box, line) {
	await page.fill(`#${box} input[name=line]`, line);
	await page.press(`#${box} input[name=line]`, 'Enter');
	return page.waitForFunction(([b, want]) => {
		const got = [...document.querySelectorAll(`#${b} .out span`)]
		    .filter((s) => !s.classList.contains('me'))
		    .map((s) => s.textContent).join('');
		return got.includes(want) ? got : false;
	}, [box, box === 'shout' ? line.toUpperCase() : line],
	    { timeout: 15000 }).then((h) => h.jsonValue());
}

async function demoChecks(page, base, label) {
	const t = Date.now();
	const resp = await page.goto(`${base}/`, { timeout: 15000 });
	check(`${label} demo: page at / (default gateway.conf's root)`,
	    resp && resp.status() === 200, `${resp && resp.status()}`);
	for (const box of ['echo', 'shout'])
		await page.waitForSelector(`#${box} .state[data-state="open"]`,
		    { timeout: 15000 });
	const urls = await page.$$eval('.conn .url', (e) => e.map((x) =>
	    x.textContent));
	const scheme = base.startsWith('https:') ? 'wss:' : 'ws:';
	check(`${label} demo: both boxes connected`, urls.every((u) =>
	    u.startsWith(scheme)), urls.join(' '));
	const line = `hello from chromium ${label}`;
	let got = await demoSay(page, 'echo', line);
	check(`${label} demo: /echo sends the line back`, got.includes(line),
	    JSON.stringify(got));
	got = await demoSay(page, 'shout', line);
	check(`${label} demo: /shout sends it back in capitals`,
	    got.startsWith('shout service: ') && got.includes(
	    line.toUpperCase()), JSON.stringify(got));
	await page.click('#echo .toggle');
	await page.waitForSelector('#echo .state[data-state="closed"]',
	    { timeout: 10000 });
	const closeText = await page.textContent('#echo .close');
	check(`${label} demo: disconnect shows close 1000`,
	    /^close 1000 \(normal closure\)/.test(closeText), closeText);
	fs.mkdirSync(OUT_DIR, { recursive: true });
	await page.screenshot({ path: path.join(OUT_DIR, 'demo.png'),
	    fullPage: true, timeout: 15000 });
	log(`${label} demo checks took ${Date.now() - t} ms`);
}

/* With the demo backends gone, a reconnect is refused by wsgate: 1014. */
async function demoBackendDown(page, base, demo) {
	await stop(demo.child, 5000);
	await page.goto(`${base}/`, { timeout: 15000 });
	await page.waitForSelector('#shout .state[data-state="closed"]',
	    { timeout: 15000 });
	const closeText = await page.textContent('#shout .close');
	check('demo: backends stopped -> the page shows close 1014',
	    /^close 1014 \(bad gateway/.test(closeText), closeText);
}

/* Fraction of sampled canvas pixels that are the colour. */
async function canvasColourShare(page, rgb) {
	return page.evaluate((want) => {
		const c = document.querySelector('#noVNC_container canvas');
		if (!c || c.width < 16 || c.height < 16)
			return { share: 0, w: c ? c.width : 0 };
		const ctx = c.getContext('2d');
		const img = ctx.getImageData(0, 0, c.width, c.height).data;
		let hit = 0, n = 0;
		for (let y = 4; y < c.height; y += 16)
			for (let x = 4; x < c.width; x += 16) {
				const i = (y * c.width + x) * 4;
				n++;
				if (Math.abs(img[i] - want[0]) < 8 &&
				    Math.abs(img[i + 1] - want[1]) < 8 &&
				    Math.abs(img[i + 2] - want[2]) < 8)
					hit++;
			}
		return { share: hit / n, w: c.width, h: c.height };
	}, rgb);
}

/* noVNC at url connects, and its canvas shows the orange desktop. */
async function novncConnects(page, url, label) {
	const t = Date.now();
	const resp = await page.goto(url, { timeout: 15000 });
	check(`${label}: vnc.html served`, resp && resp.status() === 200,
	    url);
	await page.waitForFunction(() => document.documentElement.classList
	    .contains('noVNC_connected'), null, { timeout: 20000 });
	const status = await page.evaluate(() => {
		const s = document.getElementById('noVNC_status');
		return s ? s.textContent : '';
	});
	check(`${label}: reports connected`, true, `${Date.now() - t} ms; ` +
	    `status "${status}"`);
	/* The first framebuffer update follows the connect. */
	let share = { share: 0 };
	const end = Date.now() + 15000;
	while (Date.now() < end) {
		share = await canvasColourShare(page, ORANGE);
		if (share.share > 0.5)
			break;
		await sleep(200);
	}
	check(`${label}: canvas shows the remote desktop (#ff8800)`,
	    share.share > 0.5, `${Math.round(share.share * 100)}% of sampled ` +
	    `pixels orange, framebuffer ${share.w}x${share.h}`);
}

/*
 * noVNC's own launcher, unchanged, with our websockify first on PATH.
 * It runs from tmp (no self.pem there) and is stopped as a user stops it,
 * Ctrl-C to its process group; its trap then stops websockify.
 */
async function launcherCheck(page, vnc, certs, sslOnly) {
	const label = `novnc_proxy${sslOnly ? ' --ssl-only' : ''}`;
	const compat = path.join(tmp, 'compat');
	if (!fs.existsSync(compat)) {
		fs.mkdirSync(compat);
		fs.symlinkSync(WSGATE, path.join(compat, 'websockify'));
	}
	const port = await freePort();
	const args = ['--listen', String(port), '--vnc', `127.0.0.1:${vnc}`];
	if (sslOnly)
		args.push('--cert', certs.cert, '--key', certs.key, '--ssl-only');
	const name = sslOnly ? 'launcher-ssl' : 'launcher';
	const out = fs.openSync(path.join(tmp, `${name}.log`), 'a');
	const l = spawn(LAUNCHER, args, { cwd: tmp, detached: true,
	    stdio: ['ignore', out, out],
	    env: { ...process.env, PATH: `${compat}:${process.env.PATH}` } });
	fs.closeSync(out);
	children.push(l);
	try {
		await waitPort(port, 20000, l);
		const scheme = sslOnly ? 'https' : 'http';
		await novncConnects(page, `${scheme}://127.0.0.1:${port}/vnc.html` +
		    '?autoconnect=1&resize=scale', label);
		const text = fs.readFileSync(path.join(tmp, `${name}.log`), 'utf8');
		check(`${label}: ran wsgate as websockify`, text.includes(
		    `Using installed websockify at ${compat}/websockify`));
	} finally {
		await page.goto('about:blank');
		const done = new Promise((resolve) => {
			if (l.exitCode !== null || l.signalCode !== null)
				resolve();
			else
				l.once('exit', resolve);
		});
		try { process.kill(-l.pid, 'SIGINT'); } catch { /* gone */ }
		await deadline(done, 20000, `${label} exit after Ctrl-C`);
	}
	const log = fs.readFileSync(path.join(tmp, `${name}.log`), 'utf8');
	check(`${label}: no sanitizer report`,
	    !/AddressSanitizer|runtime error:|LeakSanitizer/.test(log));
	/* The launcher's trap stopped our websockify: the port is free soon
	 * (the trap sends the signal and exits without waiting for it). */
	let free = false;
	for (const end = Date.now() + 15000; !free && Date.now() < end;) {
		free = await new Promise((resolve) => {
			const c = net.connect(port, '127.0.0.1');
			c.once('connect', () => { c.destroy(); resolve(false); });
			c.once('error', () => resolve(true));
		});
		if (!free)
			await sleep(100);
	}
	check(`${label}: websockify stopped with the launcher`, free);
}

async function novncCheck(page, base) {
	const t = Date.now();
	const url = `${base}/desk/vnc.html?autoconnect=1&path=desk/websockify` +
	    '&resize=scale&show_dot=1';
	await novncConnects(page, url, 'noVNC');
	/* Let the "Connected" toast fade; show noVNC's control bar. */
	await sleep(2000);
	await page.click('#noVNC_control_bar_handle', { timeout: 5000 })
	    .catch((e) => log(`control bar: ${e.message}`));
	await sleep(800);
	fs.mkdirSync(OUT_DIR, { recursive: true });
	const shot = path.join(OUT_DIR, 'novnc.png');
	await page.screenshot({ path: shot, timeout: 15000 });
	const docs = path.join(ROOT, 'docs', 'novnc.png');
	if (process.env.E2E_UPDATE_SCREENSHOT === '1' || !fs.existsSync(docs))
		fs.copyFileSync(shot, docs);
	check('noVNC: screenshot', fs.statSync(shot).size > 1000,
	    `${path.relative(ROOT, shot)} (${fs.statSync(shot).size} bytes)`);
	log(`noVNC checks took ${Date.now() - t} ms`);
}

/* ---- main ---- */

async function main() {
	for (const [what, p] of [['wsgate binary', WSGATE], ['chromium', CHROMIUM],
	    ['novnc', path.join(NOVNC, 'vnc.html')]])
		if (!fs.existsSync(p))
			throw new Error(`${what} not found at ${p} (run tests/e2e/run.sh)`);
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgate-e2e-'));
	log(`work dir ${tmp}; wsgate ${WSGATE}`);

	const certs = makeCerts();
	const b = await startBackends();
	const x = await startX();
	const vnc = await startVnc(x);
	const demo = await startDemoBackends();
	const ports = { http: await freePort(), https: await freePort(), vnc,
	    demoEcho: demo.port, demoShout: demo.sock, ...b };
	const g = await startWsgate(ports, certs);
	log(`wsgate on 127.0.0.1:${ports.http} (ws) and :${ports.https} ` +
	    `(wss); x11vnc on :${vnc}, X display ${x.display}`);

	const tb = Date.now();
	browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu',
		    '--disable-background-networking', '--disable-component-update',
		    '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
		/* The private $HOME holds the NSS database with the test CA. */
		env: { ...process.env, HOME: certs.home },
		timeout: 30000,
	});
	log(`chromium ${browser.version()} up in ${Date.now() - tb} ms`);
	const ctx = await browser.newContext({ viewport: { width: 1100, height: 700 },
	    ignoreHTTPSErrors: false });
	const page = await ctx.newPage();
	page.on('pageerror', (e) => log(`page error: ${e.message}`));

	await pageChecks(page, `http://127.0.0.1:${ports.http}`, 'ws://');
	await pageChecks(page, `https://127.0.0.1:${ports.https}`, 'wss://');
	await beyondChecks(page, `http://127.0.0.1:${ports.http}`, 'ws://');
	await beyondChecks(page, `https://127.0.0.1:${ports.https}`, 'wss://');
	await demoChecks(page, `http://127.0.0.1:${ports.http}`, 'ws://');
	await demoChecks(page, `https://127.0.0.1:${ports.https}`, 'wss://');
	await demoBackendDown(page, `http://127.0.0.1:${ports.http}`, demo);
	await novncCheck(page, `http://127.0.0.1:${ports.http}`);
	await launcherCheck(page, vnc, certs, false);
	await launcherCheck(page, vnc, certs, true);

	await ctx.close();
	await browser.close();
	browser = null;
	const rc = await stop(g, 10000);
	check('wsgate exits cleanly on SIGTERM', rc === 0, `exit ${rc}`);
	const glog = fs.readFileSync(path.join(tmp, 'wsgate.log'), 'utf8');
	check('wsgate logged no sanitizer report',
	    !/AddressSanitizer|runtime error:|LeakSanitizer/.test(glog));
}

async function cleanup() {
	if (browser)
		await browser.close().catch(() => {});
	await Promise.all(children.map((c) => stop(c, 3000)));
	for (const s of servers)
		s.close();
	if (tmp && failures === 0 && process.env.E2E_KEEP !== '1')
		fs.rmSync(tmp, { recursive: true, force: true });
	else if (tmp)
		log(`kept ${tmp} (logs: wsgate.log, x11vnc.log, xvfb.log)`);
}

process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM'])
	process.on(sig, () => { killAllNow(); process.exit(130); });
const budget = setTimeout(() => {
	console.log(`FAIL e2e: over the ${TOTAL_BUDGET_MS / 1000} s budget`);
	if (tmp)
		console.log(`--- wsgate.log\n${tail('wsgate')}`);
	killAllNow();
	process.exit(1);
}, TOTAL_BUDGET_MS);

try {
	await main();
} catch (e) {
	failures++;
	console.log(`FAIL e2e: ${e.stack || e}`);
	if (tmp)
		for (const n of ['wsgate', 'demo', 'x11vnc', 'xvfb'])
			console.log(`--- ${n}.log (tail)\n${tail(n)}`);
}
await cleanup();
clearTimeout(budget);
console.log(failures === 0 ? `e2e: all passed in ${((Date.now() - t0) / 1000)
    .toFixed(1)} s` : `e2e: ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
