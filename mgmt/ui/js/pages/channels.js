// pages/channels.js: channels (the API returns the whole list: paged here) and one channel's
// page with its consumers.
import {h, replace, facts, panel, table} from '../dom.js';
import * as api from '../api.js';
import {listView, clientList} from '../table.js';
import {errorBox} from '../forms.js';
import * as fmt from '../format.js';
import {connHref, channelMode} from './connections.js';
import {link} from './shared.js';

export async function list(el, ctx) {
	const lv = listView({
		key: 'channels', test: 'channels-table', sort: '',
		fetch: clientList(async () => {
			const all = await api.get('/api/channels');
			return ctx.vhost ? all.filter(c => c.vhost === ctx.vhost) : all;
		}),
		empty: 'No channels.',
		columns: [
			{label: 'Channel', sort: 'name', cls: 'name', render: c => h('a', {href: '#/channels/' + api.enc(c.name)}, c.name)},
			{label: 'User', sort: 'user', render: c => c.user || ''},
			{label: 'Virtual host', sort: 'vhost', cls: 'hide-narrow', render: c => c.vhost || ''},
			{label: 'Mode', render: c => h('abbr', {title: 'C = confirm, T = transactional'}, channelMode(c))},
			{label: 'Prefetch', sort: 'prefetch_count', cls: 'num', render: c => fmt.num(c.prefetch_count)},
			{label: 'Unacked', sort: 'messages_unacknowledged', cls: 'num', render: c => fmt.num(c.messages_unacknowledged)},
			{label: 'Unconfirmed', sort: 'messages_unconfirmed', cls: 'num hide-narrow', render: c => fmt.num(c.messages_unconfirmed)},
			{label: 'Consumers', sort: 'consumer_count', cls: 'num', render: c => fmt.num(c.consumer_count)},
			{label: 'State', sort: 'state', render: c => c.state + (c.idle_since ? ` (idle since ${c.idle_since})` : '')},
		],
	});
	el.append(h('h1', null, 'Channels'), lv);
	return {refresh: lv.refresh};
}

export async function detail(el, ctx, name) {
	const info = h('div', {'data-test': 'channel-facts'});
	const cons = h('div');
	el.append(h('h1', null, h('span', {class: 'kind'}, 'Channel'), name),
		h('div', {class: 'grid'}, panel('Details', info), panel('Consumers', cons)));
	async function refresh() {
		let c, all;
		try {
			[c, all] = await Promise.all([api.get(api.path('channels', name)), api.get('/api/consumers')]);
		} catch (e) {
			replace(info, errorBox(e));
			return;
		}
		const cd = c.connection_details || {};
		replace(info, facts([
			['Connection', h('a', {href: connHref(cd.name)}, cd.name)], ['Number', String(c.number)],
			['User', c.user], ['Virtual host', c.vhost], ['State', c.state],
			['Idle since', c.idle_since || null],
			['Confirm mode', fmt.bool(c.confirm)], ['Transactional', fmt.bool(c.transactional)],
			['Prefetch (per consumer)', fmt.num(c.prefetch_count)], ['Prefetch (global)', fmt.num(c.global_prefetch_count)],
			['Unacked', fmt.num(c.messages_unacknowledged)], ['Unconfirmed', fmt.num(c.messages_unconfirmed)],
		]));
		const mine = all.filter(k => (k.channel_details || {}).name === name);
		replace(cons, mine.length ? table([{label: 'Queue'}, {label: 'Consumer tag'}, {label: 'Ack required'},
			{label: 'Exclusive'}, {label: 'Prefetch', cls: 'num'}],
		mine.map(k => [link('queues', k.queue.vhost, k.queue.name), k.consumer_tag, fmt.bool(k.ack_required),
			fmt.bool(k.exclusive), fmt.num(k.prefetch_count)])) : h('p', {class: 'empty'}, 'No consumers.'));
	}
	await refresh();
	return {refresh};
}
