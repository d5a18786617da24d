// "Try a song": send a file (POST /analyze_data) or a URL (POST /analyze) with ?beats=1 and show the answer:
// the waveform of what was analysed (decoded here with Web Audio) with beat and downbeat markers, the tempo and
// its alternatives, the key on the circle of fifths with the runner-ups, the 0..1 features, the loudness, and
// the raw JSON. A dropped file can be played with a marker moving over the beats. Below the waveform, from the
// song's audio-analysis object (GET /v1/audio-analysis/{track_id}): its sections, the pitch classes of each
// segment and their loudness.
'use strict';

(() => {
	const {el, svg, api, errorText, fmt} = SS;
	const W = 1000, H = 160;
	const TONICS = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
	// Spotify's time_signature (beats per bar) as songscope names the metre
	const METRES = {3: '3/4', 4: '4/4', 5: '5/4', 6: '6/8', 7: '7/4'};
	const CAMELOT_MAJOR = ['8B', '3B', '10B', '5B', '12B', '7B', '2B', '9B', '4B', '11B', '6B', '1B'];
	const CAMELOT_MINOR = ['5A', '12A', '7A', '2A', '9A', '4A', '11A', '6A', '1A', '8A', '3A', '10A'];
	const FEATURES = ['energy', 'danceability', 'valence', 'acousticness', 'instrumentalness', 'speechiness',
		'liveness', 'tonal_strength', 'percussive_energy_ratio', 'harmonic_energy_ratio', 'silence_ratio'];

	let audio = null;      // playback of the dropped file
	let audioUrl = null;   // its blob: URL
	let shown = null;      // {duration, beats}
	const $ = (id) => document.getElementById(id);

	function status(text, isError) {
		$('try-status').textContent = text;
		$('try-status').classList.toggle('error', !!isError);
	}

	// Header values must be Latin-1; song titles from file names may not be.
	function headerSafe(s) {
		return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
	}

	function stopAudio() {
		if (audio) {
			audio.pause();
			audio = null;
		}
		if (audioUrl) {
			URL.revokeObjectURL(audioUrl);
			audioUrl = null;
		}
		$('play').disabled = true;
		$('play').textContent = 'Play';
	}

	async function analyseFile(file) {
		stopAudio();
		status('Analysing ' + file.name + ' …');
		const bytes = await file.arrayBuffer();
		const title = file.name.replace(/\.[^.]*$/, '');
		const r = await api('POST', 'analyze_data?beats=1', {
			body: bytes,
			headers: {'Content-Type': file.type || 'application/octet-stream', 'X-Song-Title': headerSafe(title)},
		});
		if (r.status !== 200 || !r.json) {
			status(errorText(r), true);
			return;
		}
		let decoded = null;
		try {
			decoded = await new OfflineAudioContext(1, 1, 44100).decodeAudioData(bytes.slice(0));
		} catch (e) {
			decoded = null;
		}
		audioUrl = URL.createObjectURL(file);
		show(r.json, decoded, decoded ? '' : 'This browser cannot decode the file: beats are shown on a blank timeline.');
		status('Done: ' + (r.json.cached ? 'from the cache.' : 'analysed now.'));
		$('play').disabled = false;
	}

	async function analyseUrl(url) {
		stopAudio();
		status('Analysing ' + url + ' …');
		const r = await api('POST', 'analyze?beats=1', {
			body: JSON.stringify({url}),
			headers: {'Content-Type': 'application/json'},
		});
		if (r.status !== 200 || !r.json) {
			status(errorText(r), true);
			return;
		}
		show(r.json, null, 'The page only fetches from songscope itself, so a URL\'s audio is not drawn: beats are shown on a blank timeline.');
		status('Done: ' + (r.json.cached ? 'from the cache.' : 'analysed now.'));
	}

	function drawWave(res, decoded, note) {
		const wave = $('wave');
		wave.replaceChildren();
		const duration = res.signal_duration > 0 ? res.signal_duration : decoded ? decoded.duration : 30;
		if (decoded) {
			const data = decoded.getChannelData(0);
			const n = Math.min(data.length, Math.round(duration * decoded.sampleRate));
			const per = Math.max(1, Math.floor(n / W));
			let d = '';
			for (let x = 0; x < W; x++) {
				let lo = 0, hi = 0;
				const start = Math.floor(x * n / W);
				for (let i = start; i < Math.min(n, start + per); i++) {
					if (data[i] < lo)
						lo = data[i];
					if (data[i] > hi)
						hi = data[i];
				}
				d += 'M' + x + ' ' + (H / 2 - hi * H / 2).toFixed(1) + 'V' + (H / 2 - lo * H / 2 + 0.5).toFixed(1);
			}
			wave.append(svg('path', {class: 'signal', d}));
		} else {
			wave.append(svg('line', {class: 'axis', x1: 0, x2: W, y1: H / 2, y2: H / 2}));
		}
		const beats = Array.isArray(res.beats) ? res.beats : [];
		const downbeats = Array.isArray(res.downbeats) ? res.downbeats : [];
		const isDown = (t) => downbeats.some((d) => Math.abs(d - t) < 0.002);
		const xOf = (t) => (t / duration * W).toFixed(2);
		beats.forEach((t, i) => {
			wave.append(svg('line', {class: isDown(t) ? 'beat downbeat' : 'beat', 'data-i': i,
				x1: xOf(t), x2: xOf(t), y1: 0, y2: H}));
		});
		downbeats.filter((d) => !beats.some((t) => Math.abs(d - t) < 0.002)).forEach((t) => {
			wave.append(svg('line', {class: 'downbeat', x1: xOf(t), x2: xOf(t), y1: 0, y2: H}));
		});
		wave.append(svg('line', {id: 'playhead', x1: 0, x2: 0, y1: 0, y2: H}));
		$('beat-count').textContent = beats.length + ' beats, ' + downbeats.length + ' downbeats';
		$('wave-note').textContent = note || '';
		shown = {duration, beats};
	}

	// A ring segment of the wheel from angle a0 to a1 (degrees, 0 = up, clockwise), radii r0 < r1.
	function segment(a0, a1, r0, r1) {
		const p = (a, r) => {
			const rad = (a - 90) * Math.PI / 180;
			return (r * Math.cos(rad)).toFixed(2) + ' ' + (r * Math.sin(rad)).toFixed(2);
		};
		return 'M' + p(a0, r1) + 'A' + r1 + ' ' + r1 + ' 0 0 1 ' + p(a1, r1) + 'L' + p(a1, r0) +
			'A' + r0 + ' ' + r0 + ' 0 0 0 ' + p(a0, r0) + 'Z';
	}

	function drawWheel(res) {
		const wheel = $('wheel');
		wheel.replaceChildren();
		const cands = (res.key_details && Array.isArray(res.key_details.candidates)) ? res.key_details.candidates : [];
		const chosen = res.key;
		for (let i = 0; i < 12; i++) {
			const major = (i * 7) % 12, minor = (major + 9) % 12;
			const a0 = i * 30 - 15, a1 = a0 + 30;
			for (const [tonic, mode, r0, r1] of [[major, 1, 68, 104], [minor, 0, 34, 68]]) {
				const name = TONICS[tonic] + (mode ? ' Major' : ' Minor');
				let cls = 'seg ' + (mode ? 'major' : 'minor');
				const rank = cands.findIndex((c) => c.key === name);
				if (name === chosen)
					cls += ' chosen';
				else if (rank >= 0)
					cls += ' runner-up';
				const g = svg('g', {class: cls, 'data-key': name});
				g.append(svg('path', {d: segment(a0, a1, r0, r1)}));
				const rad = (i * 30 - 90) * Math.PI / 180, rm = (r0 + r1) / 2;
				g.append(svg('text', {x: (rm * Math.cos(rad)).toFixed(1), y: (rm * Math.sin(rad)).toFixed(1) - 1,
					text: TONICS[tonic] + (mode ? '' : 'm')}));
				g.append(svg('text', {class: 'camelot', x: (rm * Math.cos(rad)).toFixed(1),
					y: (rm * Math.sin(rad) + 8).toFixed(1), text: (mode ? CAMELOT_MAJOR : CAMELOT_MINOR)[tonic]}));
				g.append(svg('title', {text: name}));
				wheel.append(g);
			}
		}
		const list = $('key-candidates');
		list.replaceChildren();
		cands.filter((c) => c.key !== chosen).forEach((c) => list.append(el('li', {text: c.key + ' (score ' + fmt(c.score, 3) + ')'})));
		if (!list.children.length)
			list.append(el('li', {text: 'none'}));
	}

	function drawFeatures(res) {
		const box = $('features');
		box.replaceChildren();
		for (const f of FEATURES) {
			const v = res[f];
			if (typeof v !== 'number')
				continue;
			const fill = el('div', {class: 'fill'});
			fill.style.width = (Math.max(0, Math.min(1, v)) * 100).toFixed(1) + '%';
			box.append(el('div', {class: 'feature', 'data-feature': f},
				el('span', {class: 'name', text: f.replace(/_/g, ' ')}),
				el('div', {class: 'bar'}, fill),
				el('span', {class: 'value', text: v.toFixed(2)})));
		}
	}

	// Sections (a band), the twelve pitch classes of each segment (a column of cells, darker where stronger) and
	// the segments' loudness (a line), from Spotify's audio-analysis object a, over duration seconds.
	function drawTimeline(a, duration) {
		const tl = $('timeline');
		tl.replaceChildren();
		const sections = Array.isArray(a.sections) ? a.sections : [];
		const segments = Array.isArray(a.segments) ? a.segments : [];
		const xOf = (t) => Math.max(0, Math.min(W, t / duration * W));
		const ROW = 8, TOP = 24, LOUD = TOP + 12 * ROW + 4, LH = 150 - LOUD;
		sections.forEach((s, i) => {
			const x = xOf(s.start), w = Math.max(0.5, xOf(s.start + s.duration) - x);
			const g = svg('g', {class: 'section-box'});
			g.append(svg('rect', {class: 'section ' + (i % 2 ? 'odd' : 'even'), x: x.toFixed(2), y: 0,
				width: w.toFixed(2), height: 20}));
			// each section's own key (Spotify's key -1..11 and mode), short on the band and whole in the title
			const keyed = Number.isInteger(s.key) && s.key >= 0 && s.key < 12;
			const letter = String.fromCharCode(65 + (i % 26));
			g.append(svg('text', {x: (x + 4).toFixed(2), y: 10,
				text: letter + (keyed ? ' · ' + TONICS[s.key] + (s.mode ? '' : 'm') : '')}));
			// and in the title its tempo, key and metre with their confidences (each the section's own)
			const metre = METRES[s.time_signature] || '4/4';
			g.append(svg('title', {text: 'section ' + letter + ': ' + fmt(s.start, 1) +
				'–' + fmt(s.start + s.duration, 1) + ' s, ' + fmt(s.tempo, 1) + ' BPM (tempo confidence ' +
				fmt(s.tempo_confidence, 2) + '), ' + fmt(s.loudness, 1) + ' dB, ' +
				(keyed ? TONICS[s.key] + (s.mode ? ' major' : ' minor') + ' (key confidence ' +
				fmt(s.key_confidence, 2) + ', mode confidence ' + fmt(s.mode_confidence, 2) + ')' : 'no key') +
				', ' + metre + ' (confidence ' + fmt(s.time_signature_confidence, 2) + '), confidence ' +
				fmt(s.confidence, 2)}));
			tl.append(g);
		});
		let d = '';
		segments.forEach((g) => {
			const x = xOf(g.start), w = Math.max(0.5, xOf(g.start + g.duration) - x);
			const col = svg('g', {class: 'segment'});
			(g.pitches || []).forEach((p, k) => {
				if (p > 0.05)
					col.append(svg('rect', {class: 'pitch', x: x.toFixed(2), y: TOP + (11 - k) * ROW,
						width: w.toFixed(2), height: ROW, 'fill-opacity': p.toFixed(2)}));
			});
			tl.append(col);
			const y = LOUD + (Math.min(0, Math.max(-60, g.loudness_max)) / -60) * LH;
			d += (d ? 'L' : 'M') + xOf(g.start + g.loudness_max_time).toFixed(1) + ' ' + y.toFixed(1);
		});
		if (d)
			tl.append(svg('path', {class: 'loudness', d}));
		$('timeline-count').textContent = sections.length + ' sections, ' + segments.length + ' segments';
	}

	// The song's audio-analysis object, drawn under the waveform; a song without one leaves the strip empty.
	async function showTimeline(res, duration) {
		$('timeline').replaceChildren();
		$('timeline-count').textContent = '';
		if (!res.track_id)
			return;
		const r = await api('GET', 'v1/audio-analysis/' + encodeURIComponent(res.track_id));
		if (r.status === 200 && r.json)
			drawTimeline(r.json, duration);
		else
			$('timeline-count').textContent = 'no segments: ' + errorText(r);
	}

	function show(res, decoded, note) {
		$('result').hidden = false;
		$('song-title').textContent = (res.title || 'Unknown') + (res.artist && res.artist !== 'Unknown' ? ' — ' + res.artist : '');
		drawWave(res, decoded, note);
		showTimeline(res, shown.duration);
		$('bpm').textContent = fmt(res.bpm);
		$('bpm-confidence').textContent = fmt(res.bpm_confidence, 2);
		$('time-signature').textContent = fmt(res.time_signature);
		const bl = $('bpm-candidates');
		bl.replaceChildren();
		(res.bpm_candidates || []).forEach((c, i) => bl.append(el('li', {class: i === 0 ? 'chosen' : '',
			text: fmt(c.bpm) + ' BPM (score ' + fmt(c.score, 3) + ')' + (i === 0 ? ' — chosen' : '')})));
		$('key').textContent = fmt(res.key);
		const kd = res.key_details || {};
		$('camelot').textContent = fmt(kd.camelot);
		$('open-key').textContent = fmt(kd.open_key);
		$('key-confidence').textContent = fmt(res.key_confidence, 2);
		drawWheel(res);
		$('loudness').textContent = fmt(res.loudness, 1);
		$('dynamic-range').textContent = fmt(res.dynamic_range, 1);
		$('signal-duration').textContent = fmt(res.signal_duration, 1);
		$('analysis-duration').textContent = fmt(res.analysis_duration, 3);
		$('cached').textContent = res.cached ? ' (cached)' : '';
		drawFeatures(res);
		$('raw').textContent = JSON.stringify(res, null, 2);
	}

	// Playback: the playhead follows the audio, and the beat just passed lights up.
	function tick() {
		if (!audio || !shown)
			return;
		const t = audio.currentTime;
		const x = (t / shown.duration * W).toFixed(2);
		const head = $('playhead');
		head.setAttribute('x1', x);
		head.setAttribute('x2', x);
		let cur = -1;
		for (let i = 0; i < shown.beats.length && shown.beats[i] <= t; i++)
			cur = i;
		for (const line of $('wave').querySelectorAll('line.beat'))
			line.classList.toggle('now', Number(line.dataset.i) === cur);
		if (!audio.paused)
			requestAnimationFrame(tick);
	}

	function togglePlay() {
		if (!audioUrl)
			return;
		if (!audio) {
			audio = new Audio(audioUrl);
			audio.addEventListener('ended', () => {
				$('play').textContent = 'Play';
			});
		}
		if (audio.paused) {
			audio.play().then(() => requestAnimationFrame(tick)).catch((e) => status('Cannot play: ' + e, true));
			$('play').textContent = 'Pause';
		} else {
			audio.pause();
			$('play').textContent = 'Play';
		}
	}

	document.addEventListener('DOMContentLoaded', () => {
		const drop = $('drop');
		drop.addEventListener('dragover', (ev) => {
			ev.preventDefault();
			drop.classList.add('over');
		});
		drop.addEventListener('dragleave', () => drop.classList.remove('over'));
		drop.addEventListener('drop', (ev) => {
			ev.preventDefault();
			drop.classList.remove('over');
			const f = ev.dataTransfer && ev.dataTransfer.files[0];
			if (f)
				analyseFile(f);
		});
		$('file').addEventListener('change', (ev) => {
			const f = ev.target.files[0];
			if (f)
				analyseFile(f);
			ev.target.value = '';
		});
		$('url-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			const u = $('url').value.trim();
			if (u)
				analyseUrl(u);
		});
		$('play').addEventListener('click', togglePlay);
	});
})();
