// pages/users.js: users (paged by the API) with the "add user" form, and one user's page:
// tags and password, permissions and topic permissions per virtual host, user limits, delete.
import {h, replace, facts, panel, fold, table} from '../dom.js';
import * as api from '../api.js';
import {listView, serverList} from '../table.js';
import {form, dangerButton, errorBox} from '../forms.js';
import {tags as tagList} from './shared.js';

const STANDARD_TAGS = ['administrator', 'monitoring', 'policymaker', 'management'];

function tagsOf(u) {
	return Array.isArray(u.tags) ? u.tags : String(u.tags || '').split(',').filter(Boolean);
}

function tagFields(current) {
	const other = current.filter(t => !STANDARD_TAGS.includes(t));
	return [...STANDARD_TAGS.map(t => ({name: 'tag_' + t, label: t, type: 'checkbox', value: current.includes(t)})),
		{name: 'other_tags', label: 'Other tags', value: other.join(','), hint: 'comma-separated'}];
}

function tagsFrom(v) {
	const out = STANDARD_TAGS.filter(t => v['tag_' + t]);
	for (const t of String(v.other_tags || '').split(','))
		if (t.trim() && !out.includes(t.trim()))
			out.push(t.trim());
	return out;
}

export async function list(el, ctx) {
	let perms = [];
	const lv = listView({
		key: 'users', test: 'users-table',
		fetch: async st => {
			const [res, p] = await Promise.all([serverList('/api/users', ['name', 'tags', 'limits'])(st),
				api.get('/api/permissions')]);
			perms = p;
			return res;
		},
		columns: [
			{label: 'Name', sort: 'name', cls: 'name', render: u => h('a', {href: '#/users/' + api.enc(u.name)}, u.name)},
			{label: 'Tags', render: u => tagList(tagsOf(u))},
			{label: 'Can access virtual hosts', render: u => {
				const vs = perms.filter(p => p.user === u.name).map(p => p.vhost);
				return vs.length ? vs.join(', ') : h('span', {class: 'muted'}, 'No access');
			}},
			{label: 'Limits', cls: 'hide-narrow', render: u => Object.entries(u.limits || {}).map(([k, v]) => `${k}: ${v}`).join(', ')},
		],
	});
	const add = form([
		{name: 'name', label: 'Username', required: true},
		{name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password'},
		...tagFields([]),
	], async v => {
		await api.put(api.path('users', v.name), {password: v.password, tags: tagsFrom(v).join(',')});
		lv.refresh();
		return `User '${v.name}' added.`;
	}, {submit: 'Add user', test: 'add-user'});
	el.append(h('h1', null, 'Users'), lv, fold('Add a user', false, add));
	return {refresh: lv.refresh};
}

export async function detail(el, ctx, name) {
	let u;
	try {
		u = await api.get(api.path('users', name));
	} catch (e) {
		el.append(h('h1', null, name), errorBox(e));
		return {};
	}
	const info = h('div', {'data-test': 'user-facts'});
	const perms = h('div', {'data-test': 'user-permissions'});
	const topics = h('div', {'data-test': 'user-topic-permissions'});
	const vhosts = ctx.vhosts.length ? ctx.vhosts : ['/'];
	async function refresh() {
		try {
			const [uu, p, tp] = await Promise.all([api.get(api.path('users', name)),
				api.get(api.path('users', name, 'permissions')), api.get(api.path('users', name, 'topic-permissions'))]);
			u = uu;
			replace(info, facts([['Tags', tagList(tagsOf(u))], ['Hashing', u.hashing_algorithm],
				['Limits', Object.entries(u.limits || {}).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none']]));
			replace(perms, p.length ? table([{label: 'Virtual host'}, {label: 'Configure'}, {label: 'Write'}, {label: 'Read'}, {label: ''}],
				p.map(x => [x.vhost, h('code', null, x.configure), h('code', null, x.write), h('code', null, x.read),
					dangerButton('Clear', `Remove ${name}'s permissions on '${x.vhost}'?`, async () => {
						await api.del(api.path('permissions', x.vhost, name));
						await refresh();
					}, 'clear-permission')])) : h('p', {class: 'empty'}, 'No permissions: this user can open no virtual host.'));
			replace(topics, tp.length ? table([{label: 'Virtual host'}, {label: 'Exchange'}, {label: 'Write'}, {label: 'Read'}, {label: ''}],
				tp.map(x => [x.vhost, x.exchange, h('code', null, x.write), h('code', null, x.read),
					dangerButton('Clear', `Remove ${name}'s topic permissions on '${x.vhost}'?`, async () => {
						await api.del(api.path('topic-permissions', x.vhost, name));
						await refresh();
					}, 'clear-topic-permission')])) : h('p', {class: 'empty'}, 'No topic permissions.'));
		} catch (e) {
			replace(info, errorBox(e));
		}
	}
	const update = form([...tagFields(tagsOf(u)),
		{name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password', hint: 'blank keeps the current one'},
	], async v => {
		const body = {tags: tagsFrom(v).join(',')};
		if (v.password)
			body.password = v.password;
		await api.put(api.path('users', name), body);
		await refresh();
		return 'User updated.';
	}, {submit: 'Update user', test: 'update-user'});
	const setPerm = form([{name: 'vhost', label: 'Virtual host', type: 'select', options: vhosts, value: ctx.vhost || vhosts[0]},
		{name: 'configure', label: 'Configure regexp', value: '.*'}, {name: 'write', label: 'Write regexp', value: '.*'},
		{name: 'read', label: 'Read regexp', value: '.*'}], async v => {
		await api.put(api.path('permissions', v.vhost, name), {configure: v.configure, write: v.write, read: v.read});
		await refresh();
		return 'Permissions set.';
	}, {submit: 'Set permission', test: 'set-permission'});
	const setTopic = form([{name: 'vhost', label: 'Virtual host', type: 'select', options: vhosts, value: ctx.vhost || vhosts[0]},
		{name: 'exchange', label: 'Exchange', value: 'amq.topic', required: true},
		{name: 'write', label: 'Write regexp', value: '.*'}, {name: 'read', label: 'Read regexp', value: '.*'}], async v => {
		await api.put(api.path('topic-permissions', v.vhost, name), {exchange: v.exchange, write: v.write, read: v.read});
		await refresh();
		return 'Topic permission set.';
	}, {submit: 'Set topic permission', test: 'set-topic-permission'});
	const limits = form([{name: 'limit', label: 'Limit', type: 'select', options: ['max-connections', 'max-channels']},
		{name: 'value', label: 'Value', type: 'number', required: true, hint: 'a negative value means no limit'}], async v => {
		await api.put(api.path('user-limits', name, v.limit), {value: v.value});
		await refresh();
		return 'Limit set.';
	}, {submit: 'Set limit', test: 'set-user-limit'});
	el.append(h('h1', null, h('span', {class: 'kind'}, 'User'), name),
		h('div', {class: 'grid'}, panel('Details', info), panel('Update this user', update)),
		panel('Permissions', perms, h('h3', null, 'Set permission'), setPerm),
		panel('Topic permissions', topics, h('h3', null, 'Set topic permission'), setTopic),
		fold('User limits', false, limits),
		h('div', {class: 'actions'}, dangerButton('Delete user', `Delete user '${name}'? Their connections are closed.`, async () => {
			await api.del(api.path('users', name));
			ctx.go('#/users');
		}, 'delete-user')));
	await refresh();
	return {};
}
