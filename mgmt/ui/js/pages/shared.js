// pages/shared.js: pieces several pages use: links to objects, feature badges, the bindings
// panel, the publish form, and the vhost chooser of "add" forms.
import {h, replace, table, fold, facts} from '../dom.js';
import * as api from '../api.js';
import {form, dangerButton, errorBox} from '../forms.js';
import * as fmt from '../format.js';

export const enc = api.enc;

// RabbitMQ's page addresses; the default exchange "" is shown as amq.default.
export function href(kind, vhost, name) {
	if (kind === 'exchanges' && name === '')
		name = 'amq.default';
	return name === undefined ? `#/${kind}/${enc(vhost)}` : `#/${kind}/${enc(vhost)}/${enc(name)}`;
}

export function link(kind, vhost, name, label) {
	const text = label ?? (kind === 'exchanges' && name === '' ? '(AMQP default)' : name);
	return h('a', {href: href(kind, vhost, name), 'data-test': 'link-' + kind}, text);
}

// The API's name for an exchange in a path: the default exchange is amq.default.
export function exchangeApiName(name) {
	return name === '' ? 'amq.default' : name;
}

const ARG_BADGES = {
	'x-message-ttl': 'TTL', 'x-expires': 'Exp', 'x-max-length': 'Lim', 'x-max-length-bytes': 'Lim B',
	'x-dead-letter-exchange': 'DLX', 'x-dead-letter-routing-key': 'DLK', 'x-max-priority': 'Pri',
	'x-overflow': 'Ovfl', 'x-single-active-consumer': 'SAC', 'x-queue-mode': 'Mode',
	'x-queue-type': 'Type', 'alternate-exchange': 'AE', 'x-delayed-type': 'Delayed',
};

export function features(o) {
	const out = [];
	const badge = (text, title) => out.push(h('abbr', {class: 'feat', title}, text), ' ');
	if (o.durable)
		badge('D', 'durable: true');
	if (o.auto_delete)
		badge('AD', 'auto-delete: true');
	if (o.exclusive)
		badge('Excl', 'exclusive: true');
	if (o.internal)
		badge('I', 'internal: true');
	for (const [k, v] of Object.entries(o.arguments || {}))
		badge(ARG_BADGES[k] || 'Args', `${k}: ${fmt.value(v)}`);
	if (o.policy)
		out.push(h('span', {class: 'tag', title: 'policy'}, o.policy));
	if (o.operator_policy)
		out.push(h('span', {class: 'tag', title: 'operator policy'}, o.operator_policy));
	return out;
}

export function tags(list) {
	const arr = Array.isArray(list) ? list : String(list || '').split(',').filter(Boolean);
	return arr.map(t => h('span', {class: 'tag'}, t));
}

export function argsTable(args) {
	const entries = Object.entries(args || {});
	if (!entries.length)
		return h('span', {class: 'muted'}, 'none');
	return table([{label: 'Argument'}, {label: 'Value'}], entries.map(([k, v]) => [h('code', null, k), fmt.value(v)]));
}

// A vhost select for "add" forms: the one chosen in the header first.
export function vhostField(ctx) {
	const names = ctx.vhosts.length ? ctx.vhosts : ['/'];
	return {name: 'vhost', label: 'Virtual host', type: 'select', options: names, value: ctx.vhost || names[0]};
}

// ---- bindings ----

function unbindPath(b) {
	const kind = b.destination_type === 'queue' ? 'q' : 'e';
	return api.path('bindings', b.vhost, 'e', b.source, kind, b.destination, b.properties_key);
}

// what: {vhost, queue} or {vhost, exchange}; reload() re-reads the panel after a change.
export function bindingsPanel(what) {
	const body = h('div', {'data-test': 'bindings'});
	const isQueue = what.queue !== undefined;
	async function load() {
		const lists = [];
		try {
			if (isQueue) {
				lists.push(['', await api.get(api.path('queues', what.vhost, what.queue, 'bindings'))]);
			} else {
				const x = exchangeApiName(what.exchange);
				lists.push(['From this exchange', await api.get(api.path('exchanges', what.vhost, x, 'bindings', 'source'))]);
				lists.push(['To this exchange', await api.get(api.path('exchanges', what.vhost, x, 'bindings', 'destination'))]);
			}
		} catch (e) {
			replace(body, errorBox(e));
			return;
		}
		replace(body, lists.map(([title, list]) => [
			title ? h('h3', null, title) : null,
			list.length ? table([{label: isQueue ? 'From exchange' : title === 'To this exchange' ? 'Source' : 'To'},
				{label: 'Routing key'}, {label: 'Arguments'}, {label: ''}],
			list.map(b => {
				const other = isQueue || title === 'To this exchange' ? ['exchanges', b.source]
					: [b.destination_type === 'queue' ? 'queues' : 'exchanges', b.destination];
				const implicit = b.source === '';
				return [
					h('span', null, link(other[0], b.vhost, other[1]), !isQueue && other[0] === 'queues' ? ' (queue)' : ''),
					h('code', {'data-test': 'binding-key'}, b.routing_key),
					fmt.value(b.arguments && Object.keys(b.arguments).length ? b.arguments : ''),
					implicit ? h('span', {class: 'muted'}, 'implicit') : dangerButton('Unbind',
						`Remove the binding from '${b.source}' to '${b.destination}' with routing key '${b.routing_key}'?`,
						async () => {
							await api.del(unbindPath(b));
							await load();
						}, 'unbind'),
				];
			}), {'data-test': 'bindings-table'}) : h('p', {class: 'empty'}, 'No bindings.'),
		]));
	}
	const fields = isQueue ?
		[{name: 'other', label: 'From exchange', required: true, placeholder: 'amq.topic'}] :
		[{name: 'kind', label: 'To', type: 'select', options: [['q', 'queue'], ['e', 'exchange']]},
			{name: 'other', label: 'Name', required: true}];
	fields.push({name: 'routing_key', label: 'Routing key'},
		{name: 'arguments', label: 'Arguments', type: 'kv'});
	const add = form(fields, async v => {
		const p = isQueue ?
			api.path('bindings', what.vhost, 'e', v.other, 'q', what.queue) :
			api.path('bindings', what.vhost, 'e', exchangeApiName(what.exchange), v.kind, v.other);
		await api.post(p, {routing_key: v.routing_key, arguments: v.arguments});
		await load();
		return 'Bound.';
	}, {submit: 'Bind', test: 'bind-form'});
	load();
	const el = fold('Bindings', true, body, h('h3', null, 'Add binding'), add);
	el.refresh = load;
	return el;
}

// ---- publish ----

const PROP_PRESETS = [['content_type', 'string'], ['correlation_id', 'string'], ['message_id', 'string'],
	['reply_to', 'string'], ['expiration', 'string', 'milliseconds, as a string'], ['priority', 'number'],
	['type', 'string'], ['app_id', 'string'], ['user_id', 'string'], ['timestamp', 'number', 'seconds since the epoch'],
	['content_encoding', 'string']];

// Publishes to exchange (or, with queue, to the default exchange with the queue's name as key).
export function publishForm(vhost, exchange, queue) {
	const fields = [];
	if (queue === undefined)
		fields.push({name: 'routing_key', label: 'Routing key'});
	fields.push(
		{name: 'delivery_mode', label: 'Delivery mode', type: 'select', value: '1',
			options: [['1', '1 - Non-persistent'], ['2', '2 - Persistent']]},
		{name: 'headers', label: 'Headers', type: 'kv'},
		{name: 'properties', label: 'Properties', type: 'kv', presets: PROP_PRESETS},
		{name: 'payload', label: 'Payload', type: 'textarea'},
		{name: 'payload_encoding', label: 'Payload encoding', type: 'select',
			options: [['string', 'String (UTF-8)'], ['base64', 'Base64']]});
	return form(fields, async v => {
		const properties = {...v.properties, delivery_mode: Number(v.delivery_mode)};
		if (Object.keys(v.headers).length)
			properties.headers = v.headers;
		const res = await api.post(api.path('exchanges', vhost, exchangeApiName(exchange), 'publish'), {
			properties, routing_key: queue === undefined ? v.routing_key : queue,
			payload: v.payload, payload_encoding: v.payload_encoding,
		});
		return res && res.routed ? 'Message published.' : 'Message published, but not routed.';
	}, {submit: 'Publish message', test: 'publish-form'});
}

// Rates as facts: pairs of [label, stats key] from message_stats.
export function rateFacts(stats, keys) {
	const ms = stats || {};
	return keys.map(([label, key]) => [label, ms[key + '_details'] ?
		`${fmt.rate(ms[key + '_details'].rate)} (${fmt.num(ms[key])} total)` : fmt.num(ms[key] || 0)]);
}

// ---- policies ----

export async function effectivePolicy(vhost, q) {
	const defs = [];
	for (const [kind, name] of [['policies', q.policy], ['operator-policies', q.operator_policy]]) {
		if (!name)
			continue;
		try {
			defs.push([kind, name, (await api.get(api.path(kind, vhost, name))).definition || {}]);
		} catch (e) {
			defs.push([kind, name, null]);
		}
	}
	if (q.effective_policy_definition)
		return {defs, effective: q.effective_policy_definition};
	// As RabbitMQ merges them: the operator policy wins, with the lower value for numeric limits.
	const effective = {};
	for (const [kind, , d] of defs)
		for (const [k, v] of Object.entries(d || {}))
			effective[k] = kind === 'operator-policies' && typeof v === 'number' && typeof effective[k] === 'number' ?
				Math.min(v, effective[k]) : v;
	return {defs, effective};
}

// The policy and operator policy that apply to an object, and the definition they add up to;
// update(obj) re-reads them only when the object's policy names change, and keeps the definition
// in .effective for the page.
export function policyPanel(vhost, kind) {
	const el = h('div', {'data-test': 'effective-policy'});
	let key = null;
	el.update = async o => {
		const k = JSON.stringify([o.policy, o.operator_policy, o.effective_policy_definition]);
		if (k === key)
			return;
		key = k;
		const {defs, effective} = await effectivePolicy(vhost, o);
		el.effective = effective;
		replace(el, defs.length ? [
			facts(defs.map(([pk, pname]) => [pk === 'policies' ? 'Policy' : 'Operator policy', pname])),
			h('h3', null, 'Effective definition'), argsTable(effective)]
			: h('p', {class: 'empty'}, `No policy applies to this ${kind}.`));
	};
	return el;
}
