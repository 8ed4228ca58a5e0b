// pages/queues.js: the queue list (one page at a time from the API, so 10,000 queues list as
// fast as ten) and the "add queue" form with RabbitMQ's argument shortcuts.
import {h, fold} from '../dom.js';
import * as api from '../api.js';
import {listView, serverList} from '../table.js';
import {form} from '../forms.js';
import * as fmt from '../format.js';
import {link, features, vhostField} from './shared.js';

const COLUMNS = ['name', 'vhost', 'type', 'state', 'durable', 'auto_delete', 'exclusive', 'arguments', 'policy',
	'operator_policy', 'consumers', 'messages_ready', 'messages_unacknowledged', 'messages',
	'message_stats.publish_details.rate', 'message_stats.deliver_get_details.rate', 'message_stats.ack_details.rate'];

export const Q_ARGS = [
	['x-message-ttl', 'number', 'milliseconds a message may stay'], ['x-expires', 'number', 'milliseconds unused before the queue is deleted'],
	['x-max-length', 'number', 'most ready messages'], ['x-max-length-bytes', 'number', 'most ready bytes'],
	['x-overflow', 'string', 'drop-head, reject-publish or reject-publish-dlx'],
	['x-dead-letter-exchange', 'string', 'where dead letters go'], ['x-dead-letter-routing-key', 'string', 'their routing key'],
	['x-max-priority', 'number', '1..255'], ['x-single-active-consumer', 'boolean', 'one consumer at a time'],
	['x-queue-mode', 'string', 'lazy'],
];

function rate(q, key) {
	return fmt.rate(((q.message_stats || {})[key + '_details'] || {}).rate || 0);
}

export async function list(el, ctx) {
	const lv = listView({
		key: 'queues', test: 'queues-table',
		fetch: serverList(ctx.base('queues'), COLUMNS),
		empty: 'No queues.',
		columns: [
			{label: 'Virtual host', sort: 'vhost', cls: 'hide-narrow', render: q => q.vhost},
			{label: 'Name', sort: 'name', cls: 'name', render: q => link('queues', q.vhost, q.name)},
			{label: 'Type', sort: 'type', cls: 'hide-narrow', render: q => q.type},
			{label: 'Features', cls: 'hide-narrow', render: q => features(q)},
			{label: 'State', sort: 'state', cls: 'hide-narrow', render: q => q.state},
			{label: 'Ready', sort: 'messages_ready', cls: 'num', render: q => fmt.num(q.messages_ready)},
			{label: 'Unacked', sort: 'messages_unacknowledged', cls: 'num', render: q => fmt.num(q.messages_unacknowledged)},
			{label: 'Total', sort: 'messages', cls: 'num hide-narrow', render: q => fmt.num(q.messages)},
			{label: 'Incoming', cls: 'num hide-narrow', render: q => rate(q, 'publish')},
			{label: 'Deliver / get', cls: 'num hide-narrow', render: q => rate(q, 'deliver_get')},
			{label: 'Ack', cls: 'num hide-narrow', render: q => rate(q, 'ack')},
			{label: 'Consumers', sort: 'consumers', cls: 'num', render: q => fmt.num(q.consumers)},
		],
	});
	const add = form([vhostField(ctx),
		{name: 'name', label: 'Name', required: true},
		{name: 'durable', label: 'Durable', type: 'checkbox', value: true},
		{name: 'auto_delete', label: 'Auto delete', type: 'checkbox'},
		{name: 'arguments', label: 'Arguments', type: 'kv', presets: Q_ARGS},
	], async v => {
		await api.put(api.path('queues', v.vhost, v.name), {durable: v.durable, auto_delete: v.auto_delete,
			arguments: v.arguments});
		lv.refresh();
		return `Queue '${v.name}' declared.`;
	}, {submit: 'Add queue', test: 'add-queue'});
	el.append(h('h1', null, 'Queues'), lv, fold('Add a new queue', false, add));
	return {refresh: lv.refresh};
}
