// pages/queue.js: one queue: facts, rates, arguments and the effective policy, consumers,
// bindings, and the message tools: publish, get (requeue or ack, auto or base64, truncation),
// move to another queue, purge, delete, and the dead-letter workbench: every message's x-death
// history as a table, and replay of all messages (the dlq-replay endpoint that
// `warrenctl dlq replay` calls) or of the selected ones, to their original queue, through their
// original exchange, or to a chosen exchange (get + publish, as warrenctl does without the
// endpoint: a message that is not moved goes back to the tail of this queue).
import {h, replace, facts, panel, fold, table} from '../dom.js';
import * as api from '../api.js';
import {form, dangerButton, errorBox, confirmAction, showError} from '../forms.js';
import * as fmt from '../format.js';
import {link, features, argsTable, bindingsPanel, publishForm, rateFacts, exchangeApiName, policyPanel} from './shared.js';

const ACKMODES = [['ack_requeue_true', 'Nack message requeue true'], ['reject_requeue_true', 'Reject requeue true'],
	['ack_requeue_false', 'Automatic ack'], ['reject_requeue_false', 'Reject requeue false']];

function xDeath(m) {
	const p = m.properties;
	const hd = p && !Array.isArray(p) ? p.headers : null;
	return hd && Array.isArray(hd['x-death']) ? hd['x-death'] : [];
}

function fingerprint(m) {
	return JSON.stringify([m.exchange, m.routing_key, m.payload_bytes, m.properties]);
}

export function xDeathTable(deaths) {
	return table([{label: 'Queue'}, {label: 'Reason'}, {label: 'Count', cls: 'num'}, {label: 'Time'},
		{label: 'Exchange'}, {label: 'Routing keys'}],
	deaths.map(d => [d.queue, d.reason, fmt.num(d.count), fmt.time(d.time, true),
		d.exchange === '' ? '(AMQP default)' : d.exchange, (d['routing-keys'] || []).join(', ')]),
	{class: 'xdeath', 'data-test': 'x-death'});
}

function propsTable(p) {
	const entries = p && !Array.isArray(p) ? Object.entries(p).filter(([k]) => k !== 'headers') : [];
	const headers = p && !Array.isArray(p) && p.headers ? Object.entries(p.headers).filter(([k]) => k !== 'x-death') : [];
	const rows = entries.map(([k, v]) => [k, fmt.value(v)]).concat(headers.map(([k, v]) => ['header ' + k, fmt.value(v)]));
	return rows.length ? table([{label: 'Property'}, {label: 'Value'}], rows) : null;
}

function messageCard(m, i) {
	const deaths = xDeath(m);
	return h('div', {class: 'message', 'data-test': 'message'},
		h('div', {class: 'head'}, h('strong', null, `Message ${i + 1}`),
			h('span', null, 'Exchange: ', m.exchange === '' ? '(AMQP default)' : m.exchange),
			h('span', null, 'Routing key: ', h('code', null, m.routing_key)),
			h('span', null, 'Redelivered: ', fmt.bool(m.redelivered)),
			h('span', null, `${fmt.num(m.message_count)} left in queue`)),
		propsTable(m.properties),
		deaths.length ? [h('h3', null, 'Dead-letter history (x-death)'), xDeathTable(deaths)] : null,
		h('div', {class: 'muted'}, `Payload: ${fmt.num(m.payload_bytes)} bytes, encoding: ${m.payload_encoding}`),
		h('pre', {'data-test': 'payload'}, m.payload));
}

// Republishes one fetched message (base64 payload). -> true when a queue took it.
async function publishRaw(vhost, m, exchange, routingKey, cc) {
	const props = m.properties && !Array.isArray(m.properties) ? JSON.parse(JSON.stringify(m.properties)) : {};
	if (cc && cc.length) {
		props.headers = props.headers || {};
		props.headers.CC = cc;
	}
	const res = await api.post(api.path('exchanges', vhost, exchangeApiName(exchange), 'publish'),
		{properties: props, routing_key: routingKey, payload: m.payload, payload_encoding: m.payload_encoding});
	return !!(res && res.routed);
}

// Takes messages off the head of the queue one at a time (ack_requeue_false, base64) and hands
// each to decide(m) -> {exchange, routingKey, cc} or null (not this one). A message that is not
// moved, or that routes nowhere, goes back to the tail of this queue; if even that fails, its
// JSON is kept in `lost` for the operator to republish by hand. Stops after `bound` messages
// (the depth when it started), so a message that dies again is not moved twice.
async function moveLoop(vhost, queue, decide, opts) {
	const tally = {moved: 0, kept: 0, unroutable: 0, lost: []};
	const getPath = api.path('queues', vhost, queue, 'get');
	let bound = opts.limit ?? Infinity, seen = 0;
	while (seen < bound && !(opts.done && opts.done())) {
		const got = await api.post(getPath, {count: 1, ackmode: 'ack_requeue_false', encoding: 'base64'});
		const m = got && got[0];
		if (!m)
			break;
		if (seen === 0)
			bound = Math.min(bound, m.message_count + 1);
		seen++;
		const target = decide(m);
		let routed = false, error = null;
		if (target) {
			try {
				routed = await publishRaw(vhost, m, target.exchange, target.routingKey, target.cc);
			} catch (e) {
				error = e;
			}
			if (routed) {
				tally.moved++;
				opts.progress && opts.progress(tally);
				continue;
			}
			tally.unroutable++;
		} else {
			tally.kept++;
		}
		let back = false;
		try {
			back = await publishRaw(vhost, m, '', queue);
		} catch (e) {
			error = error || e;
		}
		if (!back)
			tally.lost.push(m);
		if ((error && error.status === 0) || (target && opts.stopOnUnroutable))
			break;
		opts.progress && opts.progress(tally);
	}
	return tally;
}

function tallyText(t) {
	const parts = [`${fmt.num(t.moved)} moved`];
	if (t.kept)
		parts.push(`${fmt.num(t.kept)} left in place (moved to the tail)`);
	if (t.unroutable)
		parts.push(`${fmt.num(t.unroutable)} unroutable (put back)`);
	return parts.join(', ') + '.';
}

function lostBox(t) {
	if (!t.lost.length)
		return null;
	return h('div', {class: 'form-error'}, `${t.lost.length} message(s) could not be put back. Their content, to republish by hand:`,
		h('pre', null, JSON.stringify(t.lost, null, 1)));
}

// Where x-death[0] (the latest death) says a message came from.
function originalTarget(m, viaExchange) {
	const d = xDeath(m)[0];
	if (!d)
		return null;
	if (!viaExchange)
		return {exchange: '', routingKey: d.queue};
	const keys = d['routing-keys'] || [];
	return {exchange: d.exchange, routingKey: keys[0] ?? '', cc: keys.slice(1)};
}

function deadLetterPanel(vhost, queue, afterChange) {
	const result = h('div', {role: 'status', 'data-test': 'dlq-result'});
	const err = h('div', {class: 'form-error', role: 'alert', hidden: true, 'data-test': 'dlq-error'});
	const listBox = h('div', {'data-test': 'dlq-messages'});
	let inspected = [];
	let checks = [];

	const count = h('input', {type: 'number', min: 1, max: 10000, value: 100, 'aria-label': 'How many to inspect',
		'data-test': 'dlq-count'});
	async function inspect() {
		err.hidden = true;
		try {
			inspected = await api.post(api.path('queues', vhost, queue, 'get'),
				{count: Number(count.value) || 100, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 500});
		} catch (e) {
			showError(err, e.reason);
			return;
		}
		const withDeath = inspected.filter(m => xDeath(m).length).length;
		const all = h('input', {type: 'checkbox', 'aria-label': 'Select all', 'data-test': 'dlq-select-all',
			onchange: () => checks.forEach(c => {
				c.checked = all.checked;
			})});
		checks = inspected.map((m, i) => h('input', {type: 'checkbox', 'aria-label': `Select message ${i + 1}`,
			'data-test': 'dlq-select', 'data-index': i}));
		replace(listBox, h('p', {class: 'muted', 'data-test': 'dlq-summary'},
			`${inspected.length} message(s) inspected (left in the queue), ${withDeath} with x-death.`),
		inspected.length ? table([{label: all}, {label: '#', cls: 'num'}, {label: 'Dead-letter history (newest first)'},
			{label: 'Routing key'}, {label: 'Payload'}],
		inspected.map((m, i) => [checks[i], String(i + 1),
			xDeath(m).length ? xDeathTable(xDeath(m)) : h('span', {class: 'muted'}, 'no x-death header'),
			h('code', null, m.routing_key), h('code', {class: 'mono'}, String(m.payload).slice(0, 120))]),
		{'data-test': 'dlq-table'}) : null);
	}

	async function serverReplay(toOriginal) {
		err.hidden = true;
		const what = toOriginal ? 'through the exchange and routing keys they were first published with'
			: 'to the queue each one was dead-lettered from';
		if (!(await confirmAction(`Replay every message in '${queue}' ${what}?`, 'Replay all')))
			return;
		try {
			const r = await api.post(api.path('queues', vhost, queue, 'dlq-replay'), {to_original: toOriginal});
			replace(result, `Replayed: ${fmt.num(r.moved)} moved, ${fmt.num(r.kept)} without x-death kept, ` +
				`${fmt.num(r.unroutable)} unroutable kept.`);
		} catch (e) {
			showError(err, e.status === 405 || e.status === 404 ?
				'This broker has no dlq-replay endpoint; use "Replay selected" instead.' : e.reason);
		}
		afterChange();
		inspect();
	}

	const mode = h('select', {'aria-label': 'Replay to', 'data-test': 'dlq-target'},
		h('option', {value: 'queue'}, 'their original queue'),
		h('option', {value: 'original'}, 'their original exchange and routing keys'),
		h('option', {value: 'exchange'}, 'this exchange:'));
	const exchange = h('input', {type: 'text', placeholder: 'exchange', 'aria-label': 'Exchange', 'data-test': 'dlq-exchange'});
	const rk = h('input', {type: 'text', placeholder: 'routing key (blank: original)', 'aria-label': 'Routing key',
		'data-test': 'dlq-routing-key'});
	const showTarget = () => {
		exchange.hidden = rk.hidden = mode.value !== 'exchange';
	};
	mode.addEventListener('change', showTarget);
	showTarget();

	async function clientReplay(onlySelected) {
		err.hidden = true;
		const picked = onlySelected ? inspected.filter((m, i) => checks[i] && checks[i].checked) : null;
		if (onlySelected && !picked.length) {
			showError(err, 'Select messages first (Inspect, then tick them).');
			return;
		}
		if (mode.value === 'exchange' && !exchange.value) {
			showError(err, 'Name the exchange to replay to.');
			return;
		}
		const n = onlySelected ? `${picked.length} selected message(s)` : `every message in '${queue}'`;
		const where = mode.value === 'exchange' ? `to exchange '${exchange.value}'` : mode.options[mode.selectedIndex].text.replace(/^/, 'to ');
		if (!(await confirmAction(`Replay ${n} ${where}? Messages not replayed go to the tail of '${queue}'.`, 'Replay')))
			return;
		const want = new Map();
		for (const m of picked || []) {
			const fp = fingerprint(m);
			want.set(fp, (want.get(fp) || 0) + 1);
		}
		let left = picked ? picked.length : Infinity;
		const decide = m => {
			if (picked) {
				const fp = fingerprint(m);
				if (!want.get(fp))
					return null;
				want.set(fp, want.get(fp) - 1);
				left--;
			}
			if (mode.value === 'exchange') {
				const d = xDeath(m)[0];
				return {exchange: exchange.value, routingKey: rk.value || (d && (d['routing-keys'] || [])[0]) || m.routing_key};
			}
			return originalTarget(m, mode.value === 'original');
		};
		let t;
		try {
			t = await moveLoop(vhost, queue, decide, {done: () => left <= 0,
				progress: x => replace(result, 'Replaying… ' + tallyText(x))});
		} catch (e) {
			showError(err, e.reason);
			afterChange();
			return;
		}
		replace(result, 'Replayed: ' + tallyText(t), lostBox(t));
		afterChange();
		inspect();
	}

	return fold('Dead letters', true,
		h('p', {class: 'hint'}, 'Inspect shows each message\'s x-death history without removing it. Replay sends messages back where they died, as ',
			h('code', null, 'warrenctl dlq replay'), ' does.'),
		h('div', {class: 'actions'}, h('label', null, 'Inspect ', count, ' messages '),
			h('button', {type: 'button', onclick: inspect, 'data-test': 'dlq-inspect'}, 'Inspect')),
		h('div', {class: 'actions'},
			h('button', {type: 'button', class: 'secondary', onclick: () => serverReplay(false), 'data-test': 'dlq-replay-all'},
				'Replay all to original queues'),
			h('button', {type: 'button', class: 'secondary', onclick: () => serverReplay(true), 'data-test': 'dlq-replay-all-original'},
				'Replay all via original exchanges')),
		h('div', {class: 'actions'}, h('span', null, 'Replay to '), mode, exchange, rk,
			h('button', {type: 'button', onclick: () => clientReplay(true), 'data-test': 'dlq-replay-selected'}, 'Replay selected'),
			h('button', {type: 'button', class: 'secondary', onclick: () => clientReplay(false), 'data-test': 'dlq-replay-every'}, 'Replay all')),
		err, result, listBox);
}

function getPanel(vhost, queue) {
	const out = h('div', {'data-test': 'get-result'});
	const f = form([
		{name: 'ackmode', label: 'Ack mode', type: 'select', options: ACKMODES, value: 'ack_requeue_true'},
		{name: 'encoding', label: 'Encoding', type: 'select', options: [['auto', 'Auto string / base64'], ['base64', 'Base64']]},
		{name: 'count', label: 'Messages', type: 'number', value: 1, attrs: {min: 1}},
		{name: 'truncate', label: 'Truncate at', type: 'number', value: 50000, hint: 'bytes of payload shown; blank for no limit'},
	], async v => {
		const body = {count: v.count ?? 1, ackmode: v.ackmode, encoding: v.encoding};
		if (v.truncate !== null)
			body.truncate = v.truncate;
		const msgs = await api.post(api.path('queues', vhost, queue, 'get'), body);
		replace(out, msgs.length ? msgs.map(messageCard) : h('p', {class: 'empty', 'data-test': 'queue-empty'}, 'Queue is empty.'));
	}, {submit: 'Get message(s)', test: 'get-form'});
	return fold('Get messages', true, h('p', {class: 'hint'}, 'Getting messages is destructive with "Automatic ack" and "Reject requeue false".'), f, out);
}

function movePanel(vhost, queue, afterChange) {
	const result = h('div', {role: 'status', 'data-test': 'move-result'});
	const f = form([
		{name: 'dest', label: 'Destination queue', required: true},
		{name: 'limit', label: 'How many', type: 'number', hint: 'blank: every message in the queue now'},
	], async v => {
		if (!(await confirmAction(`Move ${v.limit ? fmt.num(v.limit) : 'every'} message(s) from '${queue}' to '${v.dest}'?`, 'Move')))
			return;
		const t = await moveLoop(vhost, queue, () => ({exchange: '', routingKey: v.dest}),
			{limit: v.limit ?? undefined, stopOnUnroutable: true, progress: x => replace(result, 'Moving… ' + tallyText(x))});
		replace(result, tallyText(t), lostBox(t));
		afterChange();
		if (t.unroutable)
			throw new Error(`Queue '${v.dest}' does not exist in this virtual host: nothing was moved.`);
	}, {submit: 'Move messages', test: 'move-form'});
	return fold('Move messages', false, h('p', {class: 'hint'}, 'Messages are taken from the head of this queue one at a time and published to the destination through the default exchange.'), f, result);
}

// What a stream or quorum queue adds (docs/streams.md, docs/queues.md): where it lives and, for
// a stream, its offsets and what its readers did; for a quorum queue its delivery limit (the
// smaller of argument and policy) and the dead letters it keeps. Nothing for a classic queue.
function kindFacts(q, policy) {
	if (q.type !== 'stream' && q.type !== 'quorum')
		return [];
	const list = v => Array.isArray(v) ? v.join(', ') : null;
	const out = [['Leader', q.leader ? h('span', {'data-test': 'queue-leader'}, q.leader) : null],
		['Members', list(q.members)], ['Online', list(q.online)]];
	if (q.type === 'stream')
		return out.concat([['Offsets (first / committed)', q.first_offset === undefined ? null :
			`${fmt.num(q.first_offset)} / ${fmt.num(q.committed_offset)}`],
		['Segments', q.segments === undefined ? null : `${fmt.num(q.segments)} (${fmt.bytes(q.disk_bytes)} on disk)`],
		['Chunks read / skipped', q.chunks_read === undefined ? null :
			h('span', {'data-test': 'stream-chunks'}, `${fmt.num(q.chunks_read)} / ${fmt.num(q.chunks_skipped)}`)]]);
	const limits = [(q.arguments || {})['x-delivery-limit'], (policy || {})['delivery-limit']].filter(v => typeof v === 'number');
	return out.concat([['Delivery limit', limits.length ? fmt.num(Math.min(...limits)) : 'none'],
		['Dead letters kept', q.messages_dlx === undefined ? null :
			`${fmt.num(q.messages_dlx)} (${fmt.bytes(q.messages_dlx_bytes || 0)}, ${q.dead_letter_strategy || 'at-most-once'})`]]);
}

export async function detail(el, ctx, vhost, name) {
	const info = h('div', {'data-test': 'queue-facts'});
	const rates = h('div', {'data-test': 'queue-rates'});
	const args = h('div');
	const pol = policyPanel(vhost, 'queue');
	const cons = h('div', {'data-test': 'consumers'});
	const err = h('div');
	const bindings = bindingsPanel({vhost, queue: name});
	el.append(h('h1', null, h('span', {class: 'kind'}, `Queue in virtual host ${vhost}`), name), err,
		h('div', {class: 'grid'}, panel('Details', info), panel('Message rates', rates)),
		h('div', {class: 'grid'}, panel('Arguments', args), panel('Effective policy', pol)),
		panel('Consumers', cons),
		bindings,
		fold('Publish message', false, h('p', {class: 'hint'}, `Published through the default exchange with routing key '${name}'.`),
			publishForm(vhost, '', name)),
		getPanel(vhost, name),
		deadLetterPanel(vhost, name, () => refresh()),
		movePanel(vhost, name, () => refresh()),
		panel('Purge and delete',
			h('div', {class: 'actions'}, dangerButton('Purge messages', `Remove every ready message from '${name}'?`, async () => {
				await api.del(api.path('queues', vhost, name, 'contents'));
				await refresh();
			}, 'purge')),
			deleteForm(ctx, vhost, name)));

	async function refresh() {
		let q;
		try {
			q = await api.get(api.path('queues', vhost, name));
		} catch (e) {
			replace(err, errorBox(e));
			return;
		}
		replace(err);
		await pol.update(q); // first: the delivery limit below reads its effective definition
		replace(info, facts([
			['Type', q.type], ['Features', features(q)], ['State', q.state],
			['Ready', h('span', {'data-test': 'messages-ready'}, fmt.num(q.messages_ready))],
			['Unacked', fmt.num(q.messages_unacknowledged)],
			['Total', h('span', {'data-test': 'messages-total'}, fmt.num(q.messages))],
			['In memory / paged out', q.messages_ready_ram !== undefined ?
				`${fmt.num(q.messages_ready_ram)} / ${fmt.num(q.messages_paged_out || 0)}` : null],
			['Ready bytes', fmt.bytes(q.message_bytes_ready ?? q.message_bytes)],
			['Memory', fmt.bytes(q.memory)],
			['Consumers', fmt.num(q.consumers)],
			['Consumer utilisation', q.consumer_utilisation === null || q.consumer_utilisation === undefined ? null :
				Math.round(q.consumer_utilisation * 100) + '%'],
			...kindFacts(q, pol.effective),
		]));
		replace(rates, facts(rateFacts(q.message_stats, [['Publish', 'publish'], ['Deliver / get', 'deliver_get'],
			['Ack', 'ack'], ['Redeliver', 'redeliver']])));
		replace(args, argsTable(q.arguments));
		const cd = q.consumer_details || [];
		const withChannel = cd.some(c => c.channel_details);
		const stream = q.type === 'stream';
		replace(cons, cd.length ? table([{label: 'Consumer tag'}, withChannel ? {label: 'Channel'} : null,
			{label: 'Ack required'}, {label: 'Exclusive'}, {label: 'Prefetch', cls: 'num'},
			stream ? {label: 'Started at (x-stream-offset)'} : null, stream ? {label: 'Next offset', cls: 'num'} : null].filter(Boolean),
		cd.map(c => [c.consumer_tag,
			withChannel ? (c.channel_details ? h('a', {href: '#/channels/' + api.enc(c.channel_details.name)},
				c.channel_details.name) : '') : null,
			fmt.bool(c.ack_required), fmt.bool(c.exclusive), fmt.num(c.prefetch_count),
			stream ? h('span', {'data-test': 'consumer-stream-offset'}, c.arguments && 'x-stream-offset' in c.arguments ?
				fmt.value(c.arguments['x-stream-offset']) : 'next (default)') : null,
			stream ? h('span', {'data-test': 'consumer-offset'}, c.offset === undefined ? '' : fmt.num(c.offset)) : null]
			.filter(x => x !== null)))
			: h('p', {class: 'empty'}, 'No consumers.'));
	}
	await refresh();
	return {refresh: async () => {
		await refresh();
		await bindings.refresh();
	}};
}

function deleteForm(ctx, vhost, name) {
	const ifEmpty = h('input', {type: 'checkbox', 'data-test': 'delete-if-empty'});
	const ifUnused = h('input', {type: 'checkbox', 'data-test': 'delete-if-unused'});
	return h('div', {class: 'actions'}, h('label', null, ifEmpty, ' only if empty'), h('label', null, ifUnused, ' only if unused'),
		dangerButton('Delete queue', `Delete queue '${name}' and every message in it?`, async () => {
			await api.del(api.path('queues', vhost, name) + api.query({'if-empty': ifEmpty.checked ? 'true' : '',
				'if-unused': ifUnused.checked ? 'true' : ''}));
			ctx.go('#/queues');
		}, 'delete-queue'));
}

export {link};
