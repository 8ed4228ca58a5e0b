// pages/nodes.js: the broker's nodes with their role and replication lag once clustering
// reports them, memory, disk, file descriptors and uptime; one node's page.
import {h, replace, facts, panel, table} from '../dom.js';
import * as api from '../api.js';
import {errorBox} from '../forms.js';
import * as fmt from '../format.js';

export async function list(el) {
	const body = h('div', {'data-test': 'nodes'});
	el.append(h('h1', null, 'Nodes'), body);
	async function refresh() {
		let ns;
		try {
			ns = await api.get('/api/nodes');
		} catch (e) {
			replace(body, errorBox(e));
			return;
		}
		replace(body, table([{label: 'Name'}, {label: 'Role'}, {label: 'Lag', cls: 'num'}, {label: 'Running'},
			{label: 'Memory'}, {label: 'Disk free'}, {label: 'File descriptors'}, {label: 'Uptime'}],
		ns.map(n => [h('a', {href: '#/nodes/' + api.enc(n.name)}, n.name), n.role || 'standalone',
			n.lag !== undefined ? fmt.num(n.lag) : '',
			n.running ? 'yes' : h('span', {class: 'alarm'}, 'no'),
			h('span', {class: n.mem_alarm ? 'alarm' : null}, `${fmt.bytes(n.mem_used)} / ${fmt.bytes(n.mem_limit)}`),
			h('span', {class: n.disk_free_alarm ? 'alarm' : null}, `${fmt.bytes(n.disk_free)} (limit ${fmt.bytes(n.disk_free_limit)})`),
			`${fmt.num(n.fd_used)} / ${fmt.num(n.fd_total)}`, fmt.duration(n.uptime)]), {'data-test': 'nodes-table'}));
	}
	await refresh();
	return {refresh};
}

export async function detail(el, ctx, name) {
	const body = h('div', {'data-test': 'node-facts'});
	el.append(h('h1', null, h('span', {class: 'kind'}, 'Node'), name), panel('Details', body));
	async function refresh() {
		let n;
		try {
			n = await api.get(api.path('nodes', name));
		} catch (e) {
			replace(body, errorBox(e));
			return;
		}
		replace(body, facts(Object.entries(n).filter(([, v]) => typeof v !== 'object').map(([k, v]) => [k,
			/mem_|disk_free/.test(k) && typeof v === 'number' ? fmt.bytes(v) : k === 'uptime' ? fmt.duration(v) : fmt.value(v)])));
	}
	await refresh();
	return {refresh};
}
