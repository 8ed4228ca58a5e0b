// pages/exchanges.js: exchanges (paged by the API) with the "add exchange" form, and one
// exchange's page: facts, rates, arguments, policy, bindings in and out (add/remove), publish,
// delete.
import {h, replace, facts, panel, fold, table} from '../dom.js';
import * as api from '../api.js';
import {listView, serverList} from '../table.js';
import {form, dangerButton, errorBox} from '../forms.js';
import * as fmt from '../format.js';
import {link, href, features, argsTable, vhostField, bindingsPanel, publishForm, exchangeApiName, rateFacts,
	policyPanel} from './shared.js';

const COLUMNS = ['name', 'vhost', 'type', 'durable', 'auto_delete', 'internal', 'arguments', 'policy',
	'message_stats.publish_in_details.rate', 'message_stats.publish_out_details.rate'];

const X_ARGS = [['alternate-exchange', 'string', 'where unroutable messages go']];

export async function list(el, ctx) {
	const lv = listView({
		key: 'exchanges', test: 'exchanges-table',
		fetch: serverList(ctx.base('exchanges'), COLUMNS),
		columns: [
			{label: 'Virtual host', sort: 'vhost', cls: 'hide-narrow', render: x => x.vhost},
			{label: 'Name', sort: 'name', cls: 'name', render: x => link('exchanges', x.vhost, x.name)},
			{label: 'Type', sort: 'type', render: x => x.type},
			{label: 'Features', cls: 'hide-narrow', render: x => features(x)},
			{label: 'Rate in', cls: 'num', render: x => fmt.rate(((x.message_stats || {}).publish_in_details || {}).rate || 0)},
			{label: 'Rate out', cls: 'num', render: x => fmt.rate(((x.message_stats || {}).publish_out_details || {}).rate || 0)},
		],
	});
	const types = ((ctx.overview || {}).exchange_types || [{name: 'direct'}, {name: 'fanout'}, {name: 'headers'},
		{name: 'topic'}]).map(t => t.name);
	const add = form([vhostField(ctx),
		{name: 'name', label: 'Name', required: true},
		{name: 'type', label: 'Type', type: 'select', options: types},
		{name: 'durable', label: 'Durable', type: 'checkbox', value: true},
		{name: 'auto_delete', label: 'Auto delete', type: 'checkbox'},
		{name: 'internal', label: 'Internal', type: 'checkbox'},
		{name: 'arguments', label: 'Arguments', type: 'kv', presets: X_ARGS},
	], async v => {
		await api.put(api.path('exchanges', v.vhost, v.name), {type: v.type, durable: v.durable,
			auto_delete: v.auto_delete, internal: v.internal, arguments: v.arguments});
		lv.refresh();
		return `Exchange '${v.name}' declared.`;
	}, {submit: 'Add exchange', test: 'add-exchange'});
	el.append(h('h1', null, 'Exchanges'), lv, fold('Add a new exchange', false, add));
	return {refresh: lv.refresh};
}

export async function detail(el, ctx, vhost, name) {
	if (name === 'amq.default')
		name = '';
	const apiName = exchangeApiName(name);
	const info = h('div', {'data-test': 'exchange-facts'});
	const args = h('div');
	const flows = h('div', {'data-test': 'exchange-flows'});
	const pol = policyPanel(vhost, 'exchange');
	const bindings = bindingsPanel({vhost, exchange: name});
	el.append(h('h1', null, h('span', {class: 'kind'}, `Exchange in virtual host ${vhost}`), name === '' ? '(AMQP default)' : name),
		h('div', {class: 'grid'}, panel('Details', info), panel('Arguments', args)),
		panel('Effective policy', pol),
		flows,
		bindings,
		fold('Publish message', true, publishForm(vhost, name)));
	if (name !== '' && !name.startsWith('amq.'))
		el.append(h('div', {class: 'actions'}, dangerButton('Delete exchange', `Delete exchange '${name}' and its bindings?`,
			async () => {
				await api.del(api.path('exchanges', vhost, name));
				ctx.go('#/exchanges');
			}, 'delete-exchange')));
	async function refresh() {
		let x;
		try {
			x = await api.get(api.path('exchanges', vhost, apiName));
		} catch (e) {
			replace(info, errorBox(e));
			return;
		}
		replace(info, facts([
			['Type', x.type], ['Features', features(x)], ['Policy', x.policy || 'none'],
			...rateFacts(x.message_stats, [['Messages in', 'publish_in'], ['Messages out', 'publish_out']]),
		]));
		replace(args, argsTable(x.arguments));
		replace(flows, flowTables(x));
		await pol.update(x);
	}
	await refresh();
	return {refresh: async () => {
		await refresh();
		await bindings.refresh();
	}};
}

// Who publishes into the exchange and which queues it feeds, with rates (RabbitMQ's
// incoming/outgoing), when the API reports them.
function flowTables(x) {
	const rate = st => fmt.rate(((st || {}).publish_details || {}).rate || 0);
	const parts = [];
	if (Array.isArray(x.incoming) && x.incoming.length)
		parts.push(panel('Incoming', table([{label: 'Channel'}, {label: 'Publish rate', cls: 'num'}],
			x.incoming.map(i => [(i.channel_details || {}).name ? h('a', {href: '#/channels/' + api.enc(i.channel_details.name)},
				i.channel_details.name) : '', rate(i.stats)]))));
	if (Array.isArray(x.outgoing) && x.outgoing.length)
		parts.push(panel('Outgoing', table([{label: 'Queue'}, {label: 'Publish rate', cls: 'num'}],
			x.outgoing.map(o => [o.queue ? link('queues', o.queue.vhost, o.queue.name) : '', rate(o.stats)]))));
	return parts.length ? h('div', {class: 'grid'}, parts) : null;
}

export {href};
