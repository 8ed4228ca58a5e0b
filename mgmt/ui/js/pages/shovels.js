// pages/shovels.js: dynamic shovels, as RabbitMQ's "Shovel Status" and "Shovel Management" in one
// page: every shovel with its state (terminated in red with the reason), source and destination,
// Restart and Delete (asked first); and the form that defines one (PUT
// /api/parameters/shovel/{vhost}/{name} with RabbitMQ's JSON). Monitoring users see the status
// (GET /api/shovels), policymakers the definitions (GET /api/parameters/shovel); administrators
// both.
import {h, panel, fold} from '../dom.js';
import * as api from '../api.js';
import {listView, clientList} from '../table.js';
import {form, dangerButton} from '../forms.js';
import {vhostField} from './shared.js';

// A URI without its user and password, as the status API gives them (amqp://u:p@h/v -> amqp://h/v);
// a definition's src-uri may be a list.
function maskUri(u) {
	if (Array.isArray(u))
		return u.map(maskUri).join(', ');
	return String(u ?? '').replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1');
}

// One side of a shovel from its status (running) or its definition (prefix 'src-' or 'dest-').
function side(st, def, which) {
	const u = which === 'src' ? 'src_uri' : 'dest_uri';
	const k = which === 'src' ? 'src-' : 'dest-';
	const uri = st && st[u] !== undefined ? st[u] : def ? maskUri(def[k + 'uri']) : null;
	const get = key => st && st[which + '_' + key] !== undefined ? st[which + '_' + key] :
		def ? def[k + key.replace('_', '-')] : undefined;
	const queue = get('queue'), exchange = get('exchange'), key = get('exchange_key');
	let what = null;
	if (queue !== undefined)
		what = ['queue ', h('code', null, queue)];
	else if (exchange !== undefined || key !== undefined)
		what = [exchange !== undefined ? ['exchange ', h('code', null, exchange === '' ? '(AMQP default)' : exchange)] : 'the message\'s exchange',
			key !== undefined ? [' key ', h('code', null, key)] : null];
	if (uri === null && what === null)
		return h('span', {class: 'muted'}, '—');
	return h('span', null, uri !== null ? h('code', null, uri || '(this broker)') : null, what ? [' ', what] : null);
}

function stateOf(s) {
	if (!s.status)
		return h('span', {class: 'muted'}, 'unknown');
	if (s.status.state === 'terminated')
		return h('span', {class: 'alarm', 'data-test': 'shovel-terminated'}, 'terminated',
			s.status.reason ? [': ', s.status.reason] : null);
	return h('span', {'data-test': 'shovel-' + s.status.state}, s.status.state);
}

// Status and definitions joined by vhost and name.
async function load(ctx) {
	const [status, defs] = await Promise.all([
		ctx.can('monitoring') ? api.get(ctx.base('shovels')) : [],
		ctx.can('policymaker') ? api.get(ctx.vhost ? api.path('parameters', 'shovel', ctx.vhost) : api.path('parameters', 'shovel')) : []]);
	const all = new Map();
	const at = (vhost, name) => {
		const k = JSON.stringify([vhost, name]);
		if (!all.has(k))
			all.set(k, {vhost, name, status: null, def: null});
		return all.get(k);
	};
	for (const d of defs)
		at(d.vhost, d.name).def = d.value;
	for (const s of status)
		at(s.vhost, s.name).status = s;
	return [...all.values()].map(s => ({...s, state: s.status ? s.status.state : ''}));
}

function shovelList(ctx) {
	let lv;
	const canRestart = ctx.can('monitoring');
	lv = listView({
		key: 'shovels', test: 'shovels-table', sort: 'name',
		fetch: clientList(() => load(ctx)),
		empty: 'No shovels.',
		columns: [
			{label: 'Virtual host', sort: 'vhost', render: s => s.vhost},
			{label: 'Name', sort: 'name', cls: 'name', render: s => s.name},
			{label: 'State', sort: 'state', render: stateOf},
			{label: 'Source', render: s => side(s.status, s.def, 'src')},
			{label: 'Destination', render: s => side(s.status, s.def, 'dest')},
			{label: '', render: s => h('span', {class: 'actions'},
				canRestart && s.status ? dangerButton('Restart', `Restart shovel '${s.name}' (its connections close and open again)?`, async () => {
					await api.del(api.path('shovels', 'vhost', s.vhost, s.name, 'restart'));
					await lv.refresh();
				}, 'restart-shovel', {secondary: true}) : null,
				dangerButton('Delete', `Delete shovel '${s.name}'?`, async () => {
					// a policymaker deletes the definition; a monitoring user through the status API
					await api.del(ctx.can('policymaker') ? api.path('parameters', 'shovel', s.vhost, s.name) :
						api.path('shovels', 'vhost', s.vhost, s.name));
					await lv.refresh();
				}, 'delete-shovel'))},
		],
	});
	return lv;
}

// rabbitmq_shovel's validation texts escape < and > for RabbitMQ's UI, which shows them as HTML;
// this UI shows text, so they are turned back.
function unescapeReason(e) {
	if (e && e.reason)
		e.reason = e.reason.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
	return e;
}

function endpoint(which, value, kind, key) {
	const out = {};
	if (kind === 'queue') {
		out[which + '-queue'] = value;
	} else {
		out[which + '-exchange'] = value;
		if (key !== '')
			out[which + '-exchange-key'] = key;
	}
	return out;
}

function shovelForm(ctx, lv) {
	const kinds = [['queue', 'Queue'], ['exchange', 'Exchange']];
	return form([vhostField(ctx),
		{name: 'name', label: 'Name', required: true},
		{name: 'src_uri', label: 'Source URI', required: true, value: 'amqp://',
			hint: 'amqp://user:password@host:port/vhost (amqps:// for TLS); amqp:// alone is this broker\'s default vhost'},
		{name: 'src_kind', label: 'Source', type: 'select', options: kinds},
		{name: 'src', label: 'Source queue or exchange', hint: 'a queue is declared if missing; an exchange gets a private queue bound to it'},
		{name: 'src_key', label: 'Source routing key', hint: 'exchange only: the binding key (blank: "")'},
		{name: 'dest_uri', label: 'Destination URI', required: true, value: 'amqp://'},
		{name: 'dest_kind', label: 'Destination', type: 'select', options: kinds},
		{name: 'dest', label: 'Destination queue or exchange', hint: 'blank exchange: each message\'s own exchange'},
		{name: 'dest_key', label: 'Destination routing key', hint: 'exchange only: blank keeps each message\'s routing key'},
		{name: 'ack_mode', label: 'Ack mode', type: 'select', options: [['on-confirm', 'On confirm'], ['on-publish', 'On publish'], ['no-ack', 'No ack']]},
		{name: 'prefetch', label: 'Prefetch count', type: 'number', placeholder: '1000'},
		{name: 'delete_after', label: 'Delete after', value: 'never', hint: 'never, queue-length (what the queue holds at start) or a number of messages'},
		{name: 'reconnect_delay', label: 'Reconnect delay (s)', type: 'number', placeholder: '5'},
	], async v => {
		const value = {'src-protocol': 'amqp091', 'src-uri': v.src_uri,
			...endpoint('src', v.src, v.src_kind, v.src_key),
			'dest-protocol': 'amqp091', 'dest-uri': v.dest_uri,
			...(v.dest_kind === 'queue' || v.dest !== '' || v.dest_key !== '' ? endpoint('dest', v.dest, v.dest_kind, v.dest_key) : {}),
			'ack-mode': v.ack_mode};
		if (v.dest_kind === 'exchange' && v.dest === '')
			delete value['dest-exchange'];
		if (v.prefetch !== null)
			value['src-prefetch-count'] = v.prefetch;
		const after = v.delete_after.trim();
		if (after !== '')
			value['src-delete-after'] = /^\d+$/.test(after) ? Number(after) : after;
		if (v.reconnect_delay !== null)
			value['reconnect-delay'] = v.reconnect_delay;
		try {
			await api.put(api.path('parameters', 'shovel', v.vhost, v.name), {value});
		} catch (e) {
			throw unescapeReason(e);
		}
		await lv.refresh();
		return `Shovel '${v.name}' saved.`;
	}, {submit: 'Add shovel', test: 'add-shovel'});
}

export async function page(el, ctx) {
	const lv = shovelList(ctx);
	el.append(h('h1', null, 'Shovels'), panel('Shovels',
		h('p', {class: 'hint'}, 'A shovel consumes from a queue or exchange on one broker and republishes to another (or the same), until it is deleted; see docs/shovels.md.'),
		lv,
		ctx.can('policymaker') ? fold('Add a shovel', false, shovelForm(ctx, lv)) : null));
	return {refresh: lv.refresh};
}
