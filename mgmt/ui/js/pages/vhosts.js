// pages/vhosts.js: virtual hosts (paged by the API) with the "add" form, and one vhost's page:
// description and tags, who may use it (permissions, topic permissions), its limits, delete.
import {h, replace, facts, panel, fold, table} from '../dom.js';
import * as api from '../api.js';
import {listView, serverList} from '../table.js';
import {form, dangerButton, errorBox} from '../forms.js';
import * as fmt from '../format.js';
import {tags as tagList} from './shared.js';

function tagsText(v) {
	return Array.isArray(v.tags) ? v.tags.join(',') : String(v.tags || '');
}

export async function list(el, ctx) {
	const lv = listView({
		key: 'vhosts', test: 'vhosts-table',
		fetch: serverList('/api/vhosts'),
		columns: [
			{label: 'Name', sort: 'name', cls: 'name', render: v => h('a', {href: '#/vhosts/' + api.enc(v.name)}, v.name)},
			{label: 'Description', cls: 'hide-narrow', render: v => v.description || (v.metadata || {}).description || ''},
			{label: 'Tags', cls: 'hide-narrow', render: v => tagList(v.tags || [])},
			{label: 'Ready', sort: 'messages_ready', cls: 'num', render: v => fmt.num(v.messages_ready)},
			{label: 'Unacked', sort: 'messages_unacknowledged', cls: 'num', render: v => fmt.num(v.messages_unacknowledged)},
			{label: 'Total', sort: 'messages', cls: 'num', render: v => fmt.num(v.messages)},
			{label: 'Publish', cls: 'num hide-narrow', render: v => fmt.rate((((v.message_stats || {}).publish_details) || {}).rate || 0)},
			{label: 'Deliver / get', cls: 'num hide-narrow', render: v => fmt.rate((((v.message_stats || {}).deliver_get_details) || {}).rate || 0)},
		],
	});
	const add = form([
		{name: 'name', label: 'Name', required: true},
		{name: 'description', label: 'Description'},
		{name: 'tags', label: 'Tags', hint: 'comma-separated'},
	], async v => {
		await api.put(api.path('vhosts', v.name), {description: v.description, tags: v.tags});
		lv.refresh();
		return `Virtual host '${v.name}' added.`;
	}, {submit: 'Add virtual host', test: 'add-vhost'});
	el.append(h('h1', null, 'Virtual hosts'), lv, fold('Add a virtual host', false, add));
	return {refresh: lv.refresh};
}

export async function detail(el, ctx, name) {
	let v;
	try {
		v = await api.get(api.path('vhosts', name));
	} catch (e) {
		el.append(h('h1', null, name), errorBox(e));
		return {};
	}
	const info = h('div', {'data-test': 'vhost-facts'});
	const perms = h('div', {'data-test': 'vhost-permissions'});
	const topics = h('div');
	const limits = h('div', {'data-test': 'vhost-limits'});
	async function refresh() {
		try {
			const [vv, p, tp, l] = await Promise.all([api.get(api.path('vhosts', name)),
				api.get(api.path('vhosts', name, 'permissions')), api.get(api.path('vhosts', name, 'topic-permissions')),
				api.get(api.path('vhost-limits', name))]);
			v = vv;
			replace(info, facts([['Description', v.description || (v.metadata || {}).description || ''],
				['Tags', tagList(v.tags || [])], ['Default queue type', v.default_queue_type || null],
				['Messages', `${fmt.num(v.messages_ready)} ready, ${fmt.num(v.messages_unacknowledged)} unacked`]]));
			replace(perms, p.length ? table([{label: 'User'}, {label: 'Configure'}, {label: 'Write'}, {label: 'Read'}, {label: ''}],
				p.map(x => [h('a', {href: '#/users/' + api.enc(x.user)}, x.user), h('code', null, x.configure),
					h('code', null, x.write), h('code', null, x.read),
					dangerButton('Clear', `Remove ${x.user}'s permissions on '${name}'?`, async () => {
						await api.del(api.path('permissions', name, x.user));
						await refresh();
					}, 'clear-permission')])) : h('p', {class: 'empty'}, 'No user may use this virtual host.'));
			replace(topics, tp.length ? table([{label: 'User'}, {label: 'Exchange'}, {label: 'Write'}, {label: 'Read'}],
				tp.map(x => [x.user, x.exchange, h('code', null, x.write), h('code', null, x.read)]))
				: h('p', {class: 'empty'}, 'No topic permissions.'));
			const lv = (l[0] || {}).value || {};
			replace(limits, Object.keys(lv).length ? table([{label: 'Limit'}, {label: 'Value', cls: 'num'}, {label: ''}],
				Object.entries(lv).map(([k, n]) => [k, fmt.num(n), dangerButton('Clear', `Remove the ${k} limit of '${name}'?`, async () => {
					await api.del(api.path('vhost-limits', name, k));
					await refresh();
				}, 'clear-vhost-limit')])) : h('p', {class: 'empty'}, 'No limits.'));
		} catch (e) {
			replace(info, errorBox(e));
		}
	}
	const update = form([{name: 'description', label: 'Description', value: v.description || (v.metadata || {}).description || ''},
		{name: 'tags', label: 'Tags', value: tagsText(v), hint: 'comma-separated'}], async x => {
		await api.put(api.path('vhosts', name), {description: x.description, tags: x.tags});
		await refresh();
		return 'Virtual host updated.';
	}, {submit: 'Update', test: 'update-vhost'});
	const setPerm = form([{name: 'user', label: 'User', required: true},
		{name: 'configure', label: 'Configure regexp', value: '.*'}, {name: 'write', label: 'Write regexp', value: '.*'},
		{name: 'read', label: 'Read regexp', value: '.*'}], async x => {
		await api.put(api.path('permissions', name, x.user), {configure: x.configure, write: x.write, read: x.read});
		await refresh();
		return 'Permissions set.';
	}, {submit: 'Set permission', test: 'set-permission'});
	const setLimit = form([{name: 'limit', label: 'Limit', type: 'select', options: ['max-connections', 'max-queues']},
		{name: 'value', label: 'Value', type: 'number', required: true, hint: 'a negative value means no limit'}], async x => {
		await api.put(api.path('vhost-limits', name, x.limit), {value: x.value});
		await refresh();
		return 'Limit set.';
	}, {submit: 'Set limit', test: 'set-vhost-limit'});
	el.append(h('h1', null, h('span', {class: 'kind'}, 'Virtual host'), name),
		h('div', {class: 'grid'}, panel('Details', info), panel('Update', update)),
		panel('Permissions', perms, h('h3', null, 'Set permission'), setPerm),
		panel('Topic permissions', topics),
		panel('Limits', limits, h('h3', null, 'Set limit'), setLimit),
		h('div', {class: 'actions'}, dangerButton('Delete virtual host',
			`Delete virtual host '${name}' with every queue, exchange and message in it? Its connections are closed.`, async () => {
				await api.del(api.path('vhosts', name));
				ctx.go('#/vhosts');
			}, 'delete-vhost')));
	await refresh();
	return {refresh};
}
