/*
 * wsgate browser checks. Each check opens a WebSocket through wsgate (to
 * the backends tests/e2e/e2e.mjs starts) and resolves to a plain object
 * that the driver asserts on. Every wait has a deadline.
 *   /t/ws    TCP echo backend (same route as this page: files + WebSocket)
 *   /down    a backend port nothing listens on
 *   /closer  a backend that sends "goodbye from the backend" and closes
 */
'use strict';

const WSGATE_OPEN_MS = 10000;

function wsUrl(path) {
	return (location.protocol === 'https:' ? 'wss://' : 'ws://') +
	    location.host + path;
}

function concat(parts, n) {
	const out = new Uint8Array(n);
	let off = 0;
	for (const p of parts) {
		out.set(p, off);
		off += p.length;
	}
	return out;
}

function hex(buf) {
	return Array.from(new Uint8Array(buf),
	    (b) => b.toString(16).padStart(2, '0')).join('');
}

async function sha256(bytes) {
	return hex(await crypto.subtle.digest('SHA-256', bytes));
}

/* Open path; resolve with the socket once open. */
function wsOpen(path) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(wsUrl(path));
		ws.binaryType = 'arraybuffer';
		const t = setTimeout(() => {
			ws.close();
			reject(new Error('open timeout on ' + path));
		}, WSGATE_OPEN_MS);
		ws.onopen = () => {
			clearTimeout(t);
			ws.onclose = null;
			resolve(ws);
		};
		ws.onclose = (e) => {
			clearTimeout(t);
			reject(new Error('closed before open: ' + e.code));
		};
	});
}

/* Read n bytes from ws (any number of messages), within ms. */
function wsRead(ws, n, ms) {
	return new Promise((resolve, reject) => {
		const parts = [];
		let got = 0, messages = 0, textFrames = 0;
		const t = setTimeout(() => reject(new Error(
		    `timeout after ${got} of ${n} bytes`)), ms);
		ws.onmessage = (e) => {
			if (typeof e.data === 'string')
				textFrames++;
			const b = typeof e.data === 'string' ?
			    new TextEncoder().encode(e.data) :
			    new Uint8Array(e.data);
			parts.push(b);
			got += b.length;
			messages++;
			if (got >= n) {
				clearTimeout(t);
				ws.onmessage = null;
				resolve({ bytes: concat(parts, got), messages,
				    textFrames });
			}
		};
		ws.onclose = (e) => {
			clearTimeout(t);
			reject(new Error(`closed (${e.code}) after ${got} of ` +
			    `${n} bytes`));
		};
	});
}

/* Close ws and wait for the close event. */
function wsClose(ws, ms) {
	return new Promise((resolve) => {
		const t = setTimeout(() => resolve({ code: -1 }), ms);
		ws.onclose = (e) => {
			clearTimeout(t);
			resolve({ code: e.code, wasClean: e.wasClean });
		};
		ws.close(1000, 'done');
	});
}

/* Every byte value, echoed back unchanged. */
async function checkBinary(path) {
	const ws = await wsOpen(path);
	const data = new Uint8Array(512);
	for (let i = 0; i < data.length; i++)
		data[i] = i & 0xff;
	ws.send(data);
	const r = await wsRead(ws, data.length, 5000);
	const equal = r.bytes.length === data.length &&
	    r.bytes.every((b, i) => b === data[i]);
	const closed = await wsClose(ws, 5000);
	return { equal, length: r.bytes.length, closeCode: closed.code };
}

/* A text message (UTF-8, several scripts, an emoji) comes back as bytes. */
async function checkText(path) {
	const ws = await wsOpen(path);
	const text = 'héllo wörld — Привет, 世界 ✓ 🚀 ' + 'x'.repeat(200);
	const want = new TextEncoder().encode(text);
	ws.send(text);
	const r = await wsRead(ws, want.length, 5000);
	const back = new TextDecoder('utf-8', { fatal: true }).decode(r.bytes);
	const closed = await wsClose(ws, 5000);
	return { equal: back === text, back: back.slice(0, 40),
	    closeCode: closed.code };
}

/* size random bytes up as one message, back through the echo, sha256'd. */
async function checkBig(path, size) {
	const data = new Uint8Array(size);
	for (let off = 0; off < size; off += 65536)
		crypto.getRandomValues(data.subarray(off, Math.min(size,
		    off + 65536)));
	const sent = await sha256(data);
	const ws = await wsOpen(path);
	const t0 = performance.now();
	ws.send(data);
	const r = await wsRead(ws, size, 60000);
	const ms = performance.now() - t0;
	const got = await sha256(r.bytes);
	const closed = await wsClose(ws, 5000);
	return { size, received: r.bytes.length, sent, got,
	    equal: sent === got, messages: r.messages, ms: Math.round(ms),
	    mibPerSec: Math.round(size / 1048576 / (ms / 1000) * 10) / 10,
	    closeCode: closed.code };
}

/* Open path and report how the server ends it, and what came before. */
function checkClose(path) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(wsUrl(path));
		const dec = new TextDecoder();
		let text = '', opened = false;
		ws.binaryType = 'arraybuffer';
		const t = setTimeout(() => {
			ws.close();
			reject(new Error('no close within 15 s on ' + path));
		}, 15000);
		ws.onopen = () => { opened = true; };
		ws.onmessage = (e) => {
			text += typeof e.data === 'string' ? e.data :
			    dec.decode(e.data, { stream: true });
		};
		ws.onclose = (e) => {
			clearTimeout(t);
			resolve({ opened, code: e.code, reason: e.reason,
			    wasClean: e.wasClean, text });
		};
	});
}

/* All of it, for the button (and a quick look by hand). */
async function runAll() {
	const log = document.getElementById('log');
	const out = {};
	const steps = [
		['binary', () => checkBinary('/t/ws')],
		['text', () => checkText('/t/ws')],
		['4 MiB', () => checkBig('/t/ws', 4 * 1048576)],
		['backend down', () => checkClose('/down')],
		['backend closes', () => checkClose('/closer')],
	];
	for (const [name, fn] of steps) {
		try {
			out[name] = await fn();
		} catch (e) {
			out[name] = { error: String(e) };
		}
		log.textContent += name + ': ' + JSON.stringify(out[name]) +
		    '\n';
	}
	return out;
}

document.getElementById('run').addEventListener('click', () => runAll());
