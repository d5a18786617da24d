// songscope page: what both views share. The API key lives in sessionStorage only (never a URL or a cookie);
// every call goes to songscope's own API, relative to where the web server mounts it.
'use strict';

const SS = (() => {
	const KEY = 'songscope.key';
	const SVG_NS = 'http://www.w3.org/2000/svg';
	const base = new URL('../', location.href);

	function key() {
		return sessionStorage.getItem(KEY) || '';
	}

	// el('div', {class: 'x', text: 'y'}, child...): an HTML element; svg('line', {...}) the same in SVG.
	function make(ns, tag, attrs, children) {
		const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
		for (const [k, v] of Object.entries(attrs || {})) {
			if (v === undefined || v === null)
				continue;
			if (k === 'text')
				e.textContent = String(v);
			else
				e.setAttribute(k, String(v));
		}
		for (const c of children)
			e.append(c);
		return e;
	}
	const el = (tag, attrs, ...children) => make(null, tag, attrs, children);
	const svg = (tag, attrs, ...children) => make(SVG_NS, tag, attrs, children);

	// A request to the API. Returns {status, headers, json, text}; never throws for HTTP errors.
	async function api(method, path, opts = {}) {
		const headers = Object.assign({}, opts.headers || {});
		if (key() && !opts.noKey)
			headers['X-API-Key'] = key();
		let res;
		try {
			res = await fetch(new URL(path, base), {method, headers, body: opts.body, cache: 'no-store'});
		} catch (e) {
			return {status: 0, headers: new Headers(), json: null, text: String(e)};
		}
		const text = await res.text();
		let json = null;
		try {
			json = JSON.parse(text);
		} catch (e) {
			json = null;
		}
		return {status: res.status, headers: res.headers, json, text};
	}

	// "message (error)" from an error answer.
	function errorText(r) {
		if (r.status === 0)
			return 'songscope cannot be reached: ' + r.text;
		if (r.json && r.json.message)
			return r.json.message + ' (' + r.json.error + ', HTTP ' + r.status + ')';
		return 'HTTP ' + r.status;
	}

	function fmt(v, digits) {
		if (v === null || v === undefined || Number.isNaN(v))
			return '–';
		return typeof v === 'number' && digits !== undefined ? v.toFixed(digits) : String(v);
	}

	const listeners = [];
	function onKeyChange(fn) {
		listeners.push(fn);
	}

	function showKeyState() {
		const k = key();
		document.getElementById('key-state').textContent = k ? 'key ' + k.slice(0, 8) + '… in use for this tab' : 'no key';
	}

	function showView() {
		const dash = location.hash === '#dashboard';
		document.getElementById('try').hidden = dash;
		document.getElementById('dashboard').hidden = !dash;
		document.getElementById('tab-try').classList.toggle('active', !dash);
		document.getElementById('tab-dashboard').classList.toggle('active', dash);
		for (const fn of viewListeners)
			fn(dash ? 'dashboard' : 'try');
	}
	const viewListeners = [];
	function onView(fn) {
		viewListeners.push(fn);
	}

	document.addEventListener('DOMContentLoaded', () => {
		const input = document.getElementById('api-key');
		document.getElementById('key-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			const v = input.value.trim();
			if (v)
				sessionStorage.setItem(KEY, v);
			input.value = '';
			showKeyState();
			listeners.forEach((fn) => fn());
		});
		document.getElementById('key-forget').addEventListener('click', () => {
			sessionStorage.removeItem(KEY);
			showKeyState();
			listeners.forEach((fn) => fn());
		});
		window.addEventListener('hashchange', showView);
		showKeyState();
		// After the other scripts registered their listeners.
		setTimeout(showView, 0);
	});

	return {key, el, svg, api, errorText, fmt, onKeyChange, onView};
})();
