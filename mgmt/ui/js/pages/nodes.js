// pages/nodes.js: the broker's nodes: with clustering each node's role, whether it is in sync
// and its replication lag (records and bytes the leader shipped and it has not acknowledged);
// memory, disk, file descriptors and uptime; one node's page.
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
		// A cluster node the answering node only knows from etcd has no memory or disk figures.
		const have = (n, k) => n[k] !== undefined;
		const clustered = ns.some(n => have(n, 'role'));
		const cols = [{label: 'Name'}, {label: 'Role'}];
		if (clustered)
			cols.push({label: 'In sync'}, {label: 'Lag (records)', cls: 'num'}, {label: 'Lag (bytes)', cls: 'num'});
		cols.push({label: 'Running'}, {label: 'Memory'}, {label: 'Disk free'}, {label: 'File descriptors'}, {label: 'Uptime'});
		replace(body, table(cols, ns.map(n => {
			const row = [h('a', {href: '#/nodes/' + api.enc(n.name)}, n.name),
				h('span', {'data-test': 'node-role'}, n.role || 'standalone')];
			if (clustered)
				row.push(n.role === 'leader' ? '' : n.in_sync ? 'yes' : h('span', {class: 'alarm'}, 'no'),
					have(n, 'lag_records') ? fmt.num(n.lag_records) : '',
					have(n, 'lag_bytes') ? fmt.bytes(n.lag_bytes) : '');
			row.push(n.running ? 'yes' : h('span', {class: 'alarm'}, 'no'),
				have(n, 'mem_used') ? h('span', {class: n.mem_alarm ? 'alarm' : null}, `${fmt.bytes(n.mem_used)} / ${fmt.bytes(n.mem_limit)}`) : '',
				have(n, 'disk_free') ? h('span', {class: n.disk_free_alarm ? 'alarm' : null}, `${fmt.bytes(n.disk_free)} (limit ${fmt.bytes(n.disk_free_limit)})`) : '',
				have(n, 'fd_used') ? `${fmt.num(n.fd_used)} / ${fmt.num(n.fd_total)}` : '',
				have(n, 'uptime') ? fmt.duration(n.uptime) : '');
			return row;
		}), {'data-test': 'nodes-table'}));
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
