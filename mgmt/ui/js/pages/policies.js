// pages/policies.js: policies and operator policies (the API lists them whole: paged here),
// with add/update forms whose definitions take RabbitMQ's keys, and confirmed deletes.
import {h, panel, fold} from '../dom.js';
import * as api from '../api.js';
import {listView, clientList} from '../table.js';
import {form, dangerButton} from '../forms.js';
import * as fmt from '../format.js';
import {vhostField} from './shared.js';

const DEF_KEYS = [['message-ttl', 'number'], ['max-length', 'number'], ['max-length-bytes', 'number'],
	['overflow', 'string', 'drop-head, reject-publish or reject-publish-dlx'], ['expires', 'number'],
	['dead-letter-exchange', 'string'], ['dead-letter-routing-key', 'string'], ['max-priority', 'number'],
	['queue-mode', 'string'], ['alternate-exchange', 'string'], ['single-active-consumer', 'boolean']];

function policyList(ctx, kind, key) {
	let lv;
	lv = listView({
		key, test: key + '-table', sort: '',
		fetch: clientList(() => api.get(ctx.base(kind))),
		empty: 'None.',
		columns: [
			{label: 'Virtual host', sort: 'vhost', render: p => p.vhost},
			{label: 'Name', sort: 'name', cls: 'name', render: p => p.name},
			{label: 'Pattern', render: p => h('code', null, p.pattern)},
			{label: 'Apply to', sort: 'apply-to', render: p => p['apply-to']},
			{label: 'Definition', render: p => fmt.value(p.definition)},
			{label: 'Priority', sort: 'priority', cls: 'num', render: p => String(p.priority)},
			{label: '', render: p => dangerButton('Delete', `Delete ${kind === 'policies' ? 'policy' : 'operator policy'} '${p.name}'?`,
				async () => {
					await api.del(api.path(kind, p.vhost, p.name));
					lv.refresh();
				}, 'delete-policy')},
		],
	});
	return lv;
}

function policyForm(ctx, kind, lv, test) {
	return form([vhostField(ctx),
		{name: 'name', label: 'Name', required: true},
		{name: 'pattern', label: 'Pattern', required: true, placeholder: '^amq\\.', hint: 'a regular expression matched against queue or exchange names'},
		{name: 'apply_to', label: 'Apply to', type: 'select', options: kind === 'policies' ?
			[['all', 'Exchanges and queues'], ['queues', 'Queues'], ['exchanges', 'Exchanges']] : [['queues', 'Queues']]},
		{name: 'priority', label: 'Priority', type: 'number', value: 0},
		{name: 'definition', label: 'Definition', type: 'kv', presets: DEF_KEYS},
	], async v => {
		await api.put(api.path(kind, v.vhost, v.name), {pattern: v.pattern, 'apply-to': v.apply_to,
			priority: v.priority ?? 0, definition: v.definition});
		lv.refresh();
		return 'Policy saved.';
	}, {submit: 'Add / update policy', test});
}

export async function page(el, ctx) {
	const pl = policyList(ctx, 'policies', 'policies');
	el.append(h('h1', null, 'Policies'), panel('User policies', pl,
		fold('Add / update a policy', false, policyForm(ctx, 'policies', pl, 'add-policy'))));
	const out = {refresh: pl.refresh};
	if (ctx.can('administrator')) {
		const ol = policyList(ctx, 'operator-policies', 'operator-policies');
		el.append(panel('Operator policies', h('p', {class: 'hint'}, 'Operator policies cap what user policies and queue arguments allow.'), ol,
			fold('Add / update an operator policy', false, policyForm(ctx, 'operator-policies', ol, 'add-operator-policy'))));
		out.refresh = async () => {
			await pl.refresh();
			await ol.refresh();
		};
	}
	return out;
}
