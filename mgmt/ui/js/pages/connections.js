// pages/connections.js: client connections (paged by the API) and one connection's page with
// its client properties, its channels, and a confirmed "close" (DELETE with X-Reason).
import {h, replace, facts, panel, table} from '../dom.js';
import * as api from '../api.js';
import {listView, serverList} from '../table.js';
import {dangerButton, errorBox} from '../forms.js';
import * as fmt from '../format.js';

export function connHref(name) {
	return '#/connections/' + api.enc(name);
}

export async function list(el, ctx) {
	const lv = listView({
		key: 'connections', test: 'connections-table',
		fetch: serverList('/api/connections'),
		empty: 'No connections.',
		columns: [
			{label: 'Name', sort: 'name', cls: 'name', render: c => h('a', {href: connHref(c.name)}, c.name)},
			{label: 'User provided name', sort: 'user_provided_name', cls: 'hide-narrow', render: c => c.user_provided_name || ''},
			{label: 'User', sort: 'user', render: c => c.user || ''},
			{label: 'Virtual host', sort: 'vhost', cls: 'hide-narrow', render: c => c.vhost || ''},
			{label: 'State', sort: 'state', render: c => c.state},
			{label: 'Channels', sort: 'channels', cls: 'num', render: c => fmt.num(c.channels)},
			{label: 'Protocol', cls: 'hide-narrow', render: c => c.protocol + (c.ssl ? ' (TLS)' : '')},
			{label: 'Connected', sort: 'connected_at', cls: 'hide-narrow', render: c => fmt.time(c.connected_at)},
		],
	});
	el.append(h('h1', null, 'Connections'), lv);
	return {refresh: lv.refresh};
}

export async function detail(el, ctx, name) {
	const info = h('div', {'data-test': 'connection-facts'});
	const chans = h('div', {'data-test': 'connection-channels'});
	const props = h('div');
	el.append(h('h1', null, h('span', {class: 'kind'}, 'Connection'), name),
		h('div', {class: 'actions'}, dangerButton('Close connection', `Close connection '${name}'? Its clients see 320 CONNECTION_FORCED.`,
			async () => {
				await api.del(api.path('connections', name), {headers: {'X-Reason': 'Closed via the Warren management UI'}});
				ctx.go('#/connections');
			}, 'close-connection')),
		h('div', {class: 'grid'}, panel('Details', info), panel('Client properties', props)),
		panel('Channels', chans));
	async function refresh() {
		let c, ch;
		try {
			[c, ch] = await Promise.all([api.get(api.path('connections', name)),
				api.get(api.path('connections', name, 'channels'))]);
		} catch (e) {
			replace(info, errorBox(e));
			return;
		}
		replace(info, facts([
			['User', c.user], ['Virtual host', c.vhost], ['State', c.state], ['Protocol', c.protocol],
			['Authentication', c.auth_mechanism], ['TLS', fmt.bool(c.ssl)],
			['Client', `${c.peer_host}:${c.peer_port}`], ['Server', `${c.host}:${c.port}`],
			['Heartbeat', c.timeout + ' s'], ['Frame max', fmt.num(c.frame_max)], ['Channel max', fmt.num(c.channel_max)],
			['Connected', fmt.time(c.connected_at)],
			['Received', fmt.bytes(c.recv_oct)], ['Sent', fmt.bytes(c.send_oct)],
		]));
		const cp = c.client_properties || {};
		replace(props, Object.keys(cp).length ? table([{label: 'Property'}, {label: 'Value'}],
			Object.entries(cp).map(([k, v]) => [k, fmt.value(v)])) : h('p', {class: 'empty'}, 'None.'));
		replace(chans, ch.length ? table([{label: 'Channel'}, {label: 'Mode'}, {label: 'Prefetch', cls: 'num'},
			{label: 'Unacked', cls: 'num'}, {label: 'Consumers', cls: 'num'}, {label: 'State'}],
		ch.map(x => [h('a', {href: '#/channels/' + api.enc(x.name)}, x.name), channelMode(x),
			fmt.num(x.prefetch_count), fmt.num(x.messages_unacknowledged), fmt.num(x.consumer_count), x.state]))
			: h('p', {class: 'empty'}, 'No channels.'));
	}
	await refresh();
	return {refresh};
}

export function channelMode(c) {
	return [c.confirm ? 'C' : '', c.transactional ? 'T' : ''].join('') || '';
}
