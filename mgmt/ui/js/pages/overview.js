// pages/overview.js: the node at a glance: alarms first (in red), object counts, live charts of
// queued messages and message rates over 1 min / 10 min / 1 h (from the API's samples:
// /api/overview?lengths_age=..&msg_rates_age=..), node facts and the listeners.
import {h, replace, facts, panel, table} from '../dom.js';
import * as api from '../api.js';
import {lineChart} from '../chart.js';
import * as fmt from '../format.js';
import {errorBox} from '../forms.js';

const RANGES = [['1 min', 60, 5], ['10 min', 600, 10], ['1 h', 3600, 30]];
let rangeIndex = 0; // kept while the tab lives

const LENGTHS = [['Ready', 'messages_ready'], ['Unacked', 'messages_unacknowledged'], ['Total', 'messages']];
const RATES = [['Publish', 'publish'], ['Deliver', 'deliver_get'], ['Ack', 'ack'], ['Redeliver', 'redeliver'],
	['Confirm', 'confirm'], ['Unroutable', 'return_unroutable']];

// [{t, v: [...]}] oldest first from the details' samples (newest first in the API).
function lengthPoints(qt) {
	const series = LENGTHS.map(([, k]) => (qt[k + '_details'] || {}).samples || []);
	return series[0].slice().reverse().map((s, i, arr) => ({
		t: s.timestamp, v: series.map(ss => (ss[arr.length - 1 - i] || {}).sample || 0)}));
}

function ratePoints(ms) {
	const series = RATES.map(([, k]) => ((ms[k + '_details'] || {}).samples || []).slice().reverse());
	const out = [];
	for (let i = 1; i < series[0].length; i++) {
		const dt = (series[0][i].timestamp - series[0][i - 1].timestamp) / 1000;
		out.push({t: series[0][i].timestamp, v: series.map(ss => {
			if (!ss[i] || !ss[i - 1] || dt <= 0)
				return 0;
			return Math.max(0, (ss[i].sample - ss[i - 1].sample) / dt);
		})});
	}
	return out;
}

function meter(used, limit, alarm) {
	return h('div', {class: 'meter' + (alarm ? ' bad' : ''), role: 'meter', 'aria-valuenow': fmt.pct(used, limit),
		'aria-valuemin': 0, 'aria-valuemax': 100}, h('span', {style: null, 'data-width': fmt.pct(used, limit)}));
}

function sizeMeters(root) {
	for (const s of root.querySelectorAll('.meter > span'))
		s.style.width = s.dataset.width + '%';
}

export async function page(el, ctx) {
	const alarms = h('div', {'data-test': 'alarms'});
	const tiles = h('div', {class: 'tiles', 'data-test': 'totals'});
	const lengths = lineChart('Queued messages', LENGTHS.map(([label, key]) => ({label, key})), fmt.num);
	const rates = lineChart('Message rates', RATES.map(([label, key]) => ({label, key})), v => fmt.rate(v));
	const node = h('div', {'data-test': 'node-facts'});
	const listeners = h('div', {'data-test': 'listeners'});
	const err = h('div');
	const rangeButtons = RANGES.map(([label], i) => h('button', {type: 'button', 'aria-pressed': String(i === rangeIndex),
		'data-test': 'range-' + label.replace(' ', ''), onclick: () => {
			rangeIndex = i;
			rangeButtons.forEach((b, j) => b.setAttribute('aria-pressed', String(j === i)));
			refresh();
		}}, label));
	const range = h('span', {class: 'range', role: 'group', 'aria-label': 'Chart range'}, rangeButtons);
	el.append(h('h1', null, 'Overview'), alarms, err, tiles,
		h('div', {class: 'grid'},
			panel(null, h('h2', null, 'Queued messages', range), lengths),
			panel('Message rates', rates)),
		h('div', {class: 'grid'}, panel('Node', node), panel('Listeners', listeners)));
	if (ctx.can('administrator'))
		el.append(panel('Definitions', h('p', null, 'Export or import users, virtual hosts, permissions, policies, queues, exchanges and bindings: ',
			h('a', {href: '#/definitions'}, 'Definitions'), '.')));

	async function refresh() {
		const [, age, incr] = RANGES[rangeIndex];
		let o;
		try {
			o = await api.get('/api/overview' + api.query({lengths_age: age, lengths_incr: incr,
				msg_rates_age: age, msg_rates_incr: incr}));
		} catch (e) {
			replace(err, errorBox(e));
			return;
		}
		replace(err);
		ctx.overview = o;
		const ot = o.object_totals || {}, qt = o.queue_totals || {};
		replace(tiles, [
			['Connections', ot.connections, '#/connections'], ['Channels', ot.channels, '#/channels'],
			['Exchanges', ot.exchanges, '#/exchanges'], ['Queues', ot.queues, '#/queues'],
			['Consumers', ot.consumers, null], ['Ready', qt.messages_ready, '#/queues'],
			['Unacked', qt.messages_unacknowledged, '#/queues'], ['Total messages', qt.messages, '#/queues'],
		].map(([l, n, href]) => h(href ? 'a' : 'div', {class: 'tile', href, 'data-test': 'tile-' + l.toLowerCase().replace(' ', '-')},
			h('span', {class: 'n'}, fmt.num(n || 0)), h('span', {class: 'l'}, l))));
		lengths.update(lengthPoints(qt), age * 1000);
		rates.update(ratePoints(o.message_stats || {}), age * 1000);
		replace(listeners, table([{label: 'Protocol'}, {label: 'Address'}, {label: 'Port', cls: 'num'}],
			(o.listeners || []).map(l => [l.protocol, l.ip_address, String(l.port)])));
		await refreshNode(o);
	}

	async function refreshNode(o) {
		if (!ctx.can('monitoring')) {
			replace(node, facts([['Version', `${o.product_name || 'Warren'} ${o.product_version || ''}`],
				['Node', o.node]]), h('p', {class: 'muted'}, 'Memory, disk and file descriptors need the monitoring tag.'));
			// the health check answers 503 with the reason while an alarm is on
			let reason = null;
			try {
				await api.get('/api/health/checks/alarms');
			} catch (e) {
				if (e.status === 503)
					reason = `${e.reason}. Publishers are blocked.`;
			}
			replace(alarms, reason ? h('div', {class: 'alarm-box', role: 'alert', 'data-test': 'alarm'}, reason) : null);
			return;
		}
		let n;
		try {
			n = (await api.get('/api/nodes'))[0];
		} catch (e) {
			replace(node, errorBox(e));
			return;
		}
		const list = [];
		if (n.mem_alarm)
			list.push(`Memory alarm: ${fmt.bytes(n.mem_used)} used, above the high watermark of ${fmt.bytes(n.mem_limit)}. Publishers are blocked.`);
		if (n.disk_free_alarm)
			list.push(`Disk alarm: ${fmt.bytes(n.disk_free)} free, below the limit of ${fmt.bytes(n.disk_free_limit)}. Publishers are blocked.`);
		replace(alarms, list.map(t => h('div', {class: 'alarm-box', role: 'alert', 'data-test': 'alarm'}, t)));
		const ot = o.object_totals || {};
		replace(node, facts([
			['Node', n.name],
			['Version', `${o.product_name || 'Warren'} ${o.product_version || ''} (RabbitMQ ${o.rabbitmq_version || '?'} API)`],
			['Uptime', fmt.duration(n.uptime)],
			['Memory', h('div', {class: n.mem_alarm ? 'alarm' : null, 'data-test': 'memory'},
				`${fmt.bytes(n.mem_used)} of ${fmt.bytes(n.mem_limit)} high watermark`, meter(n.mem_used, n.mem_limit, n.mem_alarm))],
			['Disk free', h('div', {class: n.disk_free_alarm ? 'alarm' : null, 'data-test': 'disk'},
				`${fmt.bytes(n.disk_free)} (limit ${fmt.bytes(n.disk_free_limit)})`)],
			['File descriptors', `${fmt.num(n.fd_used)} of ${fmt.num(n.fd_total)}`,
			],
			['Sockets', fmt.num(n.sockets_used)],
			['Connections', fmt.num(ot.connections)],
			['Channels', fmt.num(ot.channels)],
			n.role ? ['Role', n.role] : [null, null],
		].filter(([k]) => k)));
		sizeMeters(node);
	}

	await refresh();
	const onResize = () => {
		lengths.redraw();
		rates.redraw();
	};
	window.addEventListener('resize', onResize);
	return {refresh, destroy: () => window.removeEventListener('resize', onResize)};
}
