/*
 * wsgate demo page: one WebSocket per box, to the route named by the box's
 * data-path, on the host and port this page came from (ws:// or wss:// to
 * match http:// or https://). wsgate sends backend bytes as binary frames
 * (a byte stream, not messages), so they are decoded as UTF-8 as they come.
 */
'use strict';

/* RFC 6455 §7.4.1 and the IANA registry: what a close code means. */
const CLOSE_CODES = {
	1000: 'normal closure',
	1001: 'going away (server shutting down)',
	1002: 'protocol error',
	1006: 'abnormal: no close frame (connection lost)',
	1007: 'invalid UTF-8',
	1008: 'policy violation',
	1009: 'message too big',
	1011: 'internal error',
	1013: 'try again later',
	1014: 'bad gateway (the backend is down or failed)',
};

function wsUrl(path) {
	const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
	return `${scheme}//${location.host}${path}`;
}

function setupBox(box) {
	const url = wsUrl(box.dataset.path);
	const state = box.querySelector('.state');
	const toggle = box.querySelector('.toggle');
	const form = box.querySelector('.send');
	const input = form.querySelector('input');
	const sendButton = form.querySelector('button');
	const out = box.querySelector('.out');
	const closeLine = box.querySelector('.close');
	let ws = null;
	let decoder = null;

	box.querySelector('.url').textContent = url;

	function show(s, text) {
		state.dataset.state = s;
		state.textContent = text || s;
		const open = s === 'open';
		input.disabled = !open;
		sendButton.disabled = !open;
		toggle.textContent = s === 'open' || s === 'connecting' ?
		    'disconnect' : 'connect';
	}

	function append(text, cls) {
		const span = document.createElement('span');
		if (cls)
			span.className = cls;
		span.textContent = text;
		out.appendChild(span);
		out.scrollTop = out.scrollHeight;
	}

	function connect() {
		closeLine.textContent = '';
		decoder = new TextDecoder('utf-8');
		show('connecting');
		ws = new WebSocket(url);
		ws.binaryType = 'arraybuffer';
		ws.onopen = () => show('open');
		ws.onmessage = (ev) => {
			append(typeof ev.data === 'string' ? ev.data :
			    decoder.decode(ev.data, { stream: true }));
		};
		ws.onclose = (ev) => {
			const what = CLOSE_CODES[ev.code] || 'see RFC 6455 §7.4';
			show('closed', `closed ${ev.code}`);
			closeLine.textContent = `close ${ev.code} (${what})` +
			    (ev.reason ? `: "${ev.reason}"` : '') +
			    (ev.wasClean ? '' : ', not clean');
			box.dataset.closeCode = String(ev.code);
			ws = null;
		};
	}

	toggle.addEventListener('click', () => {
		if (ws === null) {
			connect();
		} else {
			show('closing');
			ws.close(1000, 'closed from the demo page');
		}
	});
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		if (ws === null || ws.readyState !== WebSocket.OPEN)
			return;
		/* The demo backends are line based: send the line with its end. */
		const line = input.value + '\n';
		ws.send(line);
		append(`> ${line}`, 'me');
		input.value = '';
	});
	connect();
}

document.querySelectorAll('section.conn[data-path]').forEach(setupBox);
