// chart.js: a small SVG line chart for the overview's rates and queue lengths (no library:
// a few series over a time range is all the pages draw). update() takes points
// [{t: ms, v: [numbers]}] oldest first; hovering shows the values at that time in the legend.
import {h, clear} from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...children) {
	const el = document.createElementNS(NS, tag);
	for (const [k, v] of Object.entries(attrs || {}))
		el.setAttribute(k, String(v));
	for (const c of children)
		el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
	return el;
}

function niceMax(v) {
	if (v <= 0)
		return 1;
	const p = Math.pow(10, Math.floor(Math.log10(v)));
	for (const m of [1, 2, 2.5, 5, 10])
		if (m * p >= v)
			return m * p;
	return 10 * p;
}

function clock(t) {
	const d = new Date(t);
	const p = x => String(x).padStart(2, '0');
	return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// series: [{label, key}], fmt: value -> text (legend and axis)
export function lineChart(title, series, fmt) {
	const svg = s('svg', {role: 'img', 'aria-label': title});
	const values = series.map(() => h('span', {class: 'v'}, ''));
	const legend = h('div', {class: 'legend'}, series.map((x, i) =>
		h('span', {'data-test': 'legend-' + x.key}, h('span', {class: 'sw s' + (i + 1)}), x.label + ' ', values[i])));
	const box = h('div', {class: 'chart', 'data-test': 'chart'}, svg, legend);
	let last = {points: [], range: 60000};

	function showValues(pt) {
		series.forEach((x, i) => {
			values[i].textContent = pt ? fmt(pt.v[i]) : '';
		});
	}

	function draw() {
		const {points, range} = last;
		clear(svg);
		const W = Math.max(280, box.clientWidth || 600), H = 190;
		const L = 58, R = 8, T = 8, B = 22;
		svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
		const end = points.length ? points[points.length - 1].t : Date.now();
		const start = end - range;
		let max = 0;
		for (const p of points)
			for (const v of p.v)
				if (v > max)
					max = v;
		max = niceMax(max);
		const x = t => L + (W - L - R) * (t - start) / range;
		const y = v => T + (H - T - B) * (1 - v / max);
		for (let i = 0; i <= 4; i++) {
			const v = max * i / 4;
			svg.appendChild(s('line', {class: i ? 'grid-line' : 'axis', x1: L, x2: W - R, y1: y(v), y2: y(v)}));
			svg.appendChild(s('text', {x: L - 6, y: y(v) + 4, 'text-anchor': 'end'}, fmt(v)));
		}
		for (const [t, anchor] of [[start, 'start'], [start + range / 2, 'middle'], [end, 'end']])
			svg.appendChild(s('text', {x: x(t), y: H - 6, 'text-anchor': anchor}, clock(t)));
		series.forEach((_, i) => {
			const pts = points.filter(p => p.t >= start).map(p => `${x(p.t).toFixed(1)},${y(p.v[i]).toFixed(1)}`);
			if (pts.length)
				svg.appendChild(s('polyline', {class: 'series s' + (i + 1), points: pts.join(' ')}));
		});
		const cursor = s('line', {class: 'cursor', y1: T, y2: H - B, x1: -10, x2: -10});
		svg.appendChild(cursor);
		svg.onmousemove = ev => {
			const rect = svg.getBoundingClientRect();
			const px = (ev.clientX - rect.left) * W / rect.width;
			const t = start + (px - L) / (W - L - R) * range;
			let best = null;
			for (const p of points)
				if (!best || Math.abs(p.t - t) < Math.abs(best.t - t))
					best = p;
			if (best) {
				cursor.setAttribute('x1', x(best.t));
				cursor.setAttribute('x2', x(best.t));
				showValues(best);
			}
		};
		svg.onmouseleave = () => {
			cursor.setAttribute('x1', -10);
			cursor.setAttribute('x2', -10);
			showValues(points[points.length - 1]);
		};
		showValues(points[points.length - 1]);
	}

	box.update = (points, range) => {
		last = {points, range};
		draw();
	};
	box.redraw = draw;
	return box;
}
