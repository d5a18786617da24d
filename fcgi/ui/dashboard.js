// Operator dashboard (admin key): /health, the /metrics counters sampled every few seconds (requests and
// latency over the last minutes, analyses per minute), /stats (cache size and hit rate), /auth/keys (the most
// active keys and their quota use, the key list with create and deactivate), /cache and /cache/search (recent
// analyses). A key without the admin scope is refused by songscope itself and the page says so.
'use strict';

(() => {
	const {el, svg, api, errorText, fmt} = SS;
	const $ = (id) => document.getElementById(id);
	const PERIOD_MS = 5000;
	const KEEP = 60;          // samples kept: five minutes
	let samples = [];         // [{t, m}] with m the parsed metrics
	let timer = null;
	let visible = false;

	// Prometheus text → {name: [{labels, value}]}.
	function parseMetrics(text) {
		const out = {};
		for (const line of text.split('\n')) {
			if (!line || line[0] === '#')
				continue;
			const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
			if (!m)
				continue;
			const labels = {};
			(m[3] || '').replace(/(\w+)="((?:[^"\\]|\\.)*)"/g, (all, k, v) => {
				labels[k] = v;
				return '';
			});
			(out[m[1]] = out[m[1]] || []).push({labels, value: Number(m[4])});
		}
		return out;
	}
	const total = (m, name) => (m[name] || []).reduce((s, e) => s + e.value, 0);

	function showError(text) {
		$('dash-error').textContent = text;
		$('dash-error').hidden = false;
		$('dash-body').hidden = true;
	}

	function spark(values) {
		const box = $('req-spark');
		box.replaceChildren();
		const max = Math.max(1, ...values);
		const w = 120 / KEEP;
		values.forEach((v, i) => {
			const h = v / max * 28;
			box.append(svg('rect', {x: (120 - (values.length - i) * w).toFixed(2), y: (30 - h).toFixed(2),
				width: (w * 0.8).toFixed(2), height: h.toFixed(2)}));
		});
	}

	// Quantile q of the requests between two histogram samples (bucket upper bound, in ms).
	function quantile(m0, m1, q) {
		const b1 = m1.songscope_request_duration_seconds_bucket || [];
		const b0 = (m0 && m0.songscope_request_duration_seconds_bucket) || [];
		const rows = b1.map((e) => {
			const before = b0.find((x) => x.labels.le === e.labels.le);
			return {le: Number(e.labels.le === '+Inf' ? Infinity : e.labels.le), n: e.value - (before ? before.value : 0)};
		}).sort((a, b) => a.le - b.le);
		const all = rows.length ? rows[rows.length - 1].n : 0;
		if (all <= 0)
			return null;
		const row = rows.find((r) => r.n >= q * all);
		return row && Number.isFinite(row.le) ? row.le * 1000 : null;
	}

	function showMetrics() {
		const last = samples[samples.length - 1].m;
		const first = samples[0];
		const prev = samples.length > 1 ? samples[samples.length - 2] : null;
		const minutes = prev ? (samples[samples.length - 1].t - first.t) / 60000 : 0;
		const reqs = total(last, 'songscope_requests_total');
		$('req-total').textContent = reqs;
		$('req-rate').textContent = minutes > 0 ? ((reqs - total(first.m, 'songscope_requests_total')) / minutes).toFixed(1) : '–';
		const dSum = total(last, 'songscope_request_duration_seconds_sum') - total(first.m, 'songscope_request_duration_seconds_sum');
		const dCount = total(last, 'songscope_request_duration_seconds_count') - total(first.m, 'songscope_request_duration_seconds_count');
		$('lat-avg').textContent = dCount > 0 ? (dSum / dCount * 1000).toFixed(1)
			: fmt(total(last, 'songscope_request_duration_seconds_sum') * 1000 / Math.max(1, total(last, 'songscope_request_duration_seconds_count')), 1);
		const p95 = quantile(samples.length > 1 ? first.m : null, last, 0.95);
		$('lat-p95').textContent = p95 === null ? '–' : '≤ ' + p95.toFixed(1);
		const an = total(last, 'songscope_analyses_total');
		$('analyses-total').textContent = an;
		$('analyses-rate').textContent = minutes > 0 ? ((an - total(first.m, 'songscope_analyses_total')) / minutes).toFixed(1) : '–';
		$('responders').textContent = total(last, 'songscope_responders_alive');
		const rates = [];
		for (let i = 1; i < samples.length; i++) {
			const dt = (samples[i].t - samples[i - 1].t) / 60000;
			rates.push(dt > 0 ? (total(samples[i].m, 'songscope_requests_total') - total(samples[i - 1].m, 'songscope_requests_total')) / dt : 0);
		}
		spark(rates);
	}

	function showHealth(r) {
		const h = r.json || {};
		$('health-status').textContent = h.status || ('HTTP ' + r.status);
		$('health-status').className = 'big ' + (r.status === 200 ? 'ok' : 'bad');
		const parts = [];
		if (h.version)
			parts.push('version ' + h.version);
		if (typeof h.uptime === 'number')
			parts.push('up ' + Math.round(h.uptime) + ' s');
		if (h.components)
			parts.push('database ' + h.components.database);
		if (h.message)
			parts.push(h.message);
		$('health-detail').textContent = parts.join(' · ');
	}

	function showKeys(keys) {
		const top = $('top-keys').tBodies[0];
		top.replaceChildren();
		keys.filter((k) => k.requests_today > 0).sort((a, b) => b.requests_today - a.requests_today).slice(0, 8).forEach((k) => {
			const fill = el('div', {class: 'fill'});
			const share = k.daily_limit > 0 ? Math.min(1, k.requests_today / k.daily_limit) : 0;
			fill.style.width = (share * 100).toFixed(1) + '%';
			top.append(el('tr', {},
				el('td', {text: k.name + ' (' + k.prefix + ')'}),
				el('td', {text: k.requests_today}),
				el('td', {}, k.daily_limit > 0 ? el('div', {class: 'bar'}, fill) : '',
					k.daily_limit > 0 ? k.requests_today + ' / ' + k.daily_limit : 'no daily limit')));
		});
		if (!top.rows.length)
			top.append(el('tr', {}, el('td', {colspan: 3, text: 'no requests with a key today'})));

		const body = $('keys').tBodies[0];
		body.replaceChildren();
		for (const k of keys) {
			const action = el('td');
			if (k.active) {
				const b = el('button', {type: 'button', class: 'deactivate', 'data-id': k.id, text: 'Deactivate'});
				b.addEventListener('click', () => deactivate(k));
				action.append(b);
			}
			body.append(el('tr', {'data-id': k.id, class: k.active ? '' : 'inactive'},
				el('td', {text: k.id}), el('td', {text: k.name}), el('td', {text: k.prefix}), el('td', {text: k.scope}),
				el('td', {text: k.active ? 'yes' : 'no'}), el('td', {text: k.daily_limit || 'none'}),
				el('td', {text: k.requests_today}), el('td', {text: k.last_used || 'never'}), action));
		}
	}

	function showRecent(rows) {
		const body = $('recent').tBodies[0];
		body.replaceChildren();
		for (const s of rows)
			body.append(el('tr', {}, el('td', {text: s.analyzed_at}), el('td', {text: s.title}), el('td', {text: s.artist}),
				el('td', {text: fmt(s.bpm)}), el('td', {text: fmt(s.key)})));
		if (!rows.length)
			body.append(el('tr', {}, el('td', {colspan: 5, text: 'nothing found'})));
	}

	async function loadRecent() {
		const q = $('search').value.trim();
		const r = q ? await api('GET', 'cache/search?namespace=all&q=' + encodeURIComponent(q))
			: await api('GET', 'cache?namespace=all&limit=20');
		if (r.status === 200 && Array.isArray(r.json))
			showRecent(r.json);
		else if (r.status === 200 && r.json && Array.isArray(r.json.songs))
			showRecent(r.json.songs);
		else if (r.status !== 200)
			showError(errorText(r));
	}

	async function loadKeys() {
		const r = await api('GET', 'auth/keys');
		if (r.status === 200 && r.json)
			showKeys(r.json.keys || []);
	}

	async function deactivate(k) {
		if (!confirm('Deactivate key ' + k.id + ' (' + k.name + ')?'))
			return;
		const r = await api('DELETE', 'auth/keys/' + k.id);
		if (r.status !== 200)
			showError(errorText(r));
		loadKeys();
	}

	async function createKey(ev) {
		ev.preventDefault();
		const body = {name: $('new-key-name').value.trim(), scope: $('new-key-scope').value};
		const daily = $('new-key-daily').value;
		if (daily !== '')
			body.daily_limit = Number(daily);
		const r = await api('POST', 'auth/keys', {body: JSON.stringify(body), headers: {'Content-Type': 'application/json'}});
		const out = $('new-key');
		out.hidden = false;
		if (r.status === 201 && r.json) {
			out.className = 'ok';
			out.textContent = 'New key ' + r.json.id + ' (' + r.json.name + '), shown once — store it now: ' + r.json.key;
			$('new-key-name').value = '';
		} else {
			out.className = 'error';
			out.textContent = errorText(r);
		}
		loadKeys();
	}

	async function refresh() {
		const health = await api('GET', 'health', {noKey: true});
		const metrics = await api('GET', 'metrics');
		if (metrics.status !== 200) {
			showError(metrics.status === 403 && metrics.json && metrics.json.error === 'forbidden'
				? 'This key cannot open the dashboard: it needs the admin scope. ' + errorText(metrics)
				: 'Type an admin key above to open the dashboard. ' + errorText(metrics));
			samples = [];
			return false;
		}
		$('dash-error').hidden = true;
		$('dash-body').hidden = false;
		showHealth(health);
		samples.push({t: Date.now(), m: parseMetrics(metrics.text)});
		if (samples.length > KEEP)
			samples.shift();
		showMetrics();
		const stats = await api('GET', 'stats');
		if (stats.status === 200 && stats.json) {
			$('cache-size').textContent = fmt(stats.json.total_cached_songs);
			$('cache-hit-rate').textContent = typeof stats.json.cache_hit_rate === 'number'
				? (stats.json.cache_hit_rate * 100).toFixed(1) + ' %' : '–';
		}
		await loadKeys();
		return true;
	}

	async function start() {
		clearTimeout(timer);
		timer = null;
		if (!visible)
			return;
		// Without a key too: with auth = off (development) songscope needs none; otherwise it answers 401 and
		// the page asks for an admin key.
		if (await refresh()) {
			await loadRecent();
			$('dash-body').dataset.ready = '1';
			const loop = async () => {
				if (!visible)
					return;
				await refresh();
				timer = setTimeout(loop, PERIOD_MS);
			};
			timer = setTimeout(loop, PERIOD_MS);
		}
	}

	SS.onView((view) => {
		visible = view === 'dashboard';
		start();
	});
	SS.onKeyChange(() => {
		samples = [];
		delete $('dash-body').dataset.ready;
		start();
	});
	document.addEventListener('DOMContentLoaded', () => {
		$('search-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			loadRecent();
		});
		$('create-key').addEventListener('submit', createKey);
	});
})();
