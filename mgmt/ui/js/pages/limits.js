// pages/limits.js: virtual host limits (max-connections, max-queues) and user limits
// (max-connections, max-channels): lists, set forms and confirmed clears.
import {h, replace, panel, table} from '../dom.js';
import * as api from '../api.js';
import {form, dangerButton, errorBox} from '../forms.js';
import * as fmt from '../format.js';

export async function page(el, ctx) {
	const vl = h('div', {'data-test': 'vhost-limits'});
	const ul = h('div', {'data-test': 'user-limits'});
	async function refresh() {
		try {
			const [v, u] = await Promise.all([api.get('/api/vhost-limits'), api.get('/api/user-limits')]);
			const rows = (list, who, kind) => list.flatMap(x => Object.entries(x.value || {}).map(([k, n]) => [x[who], k, fmt.num(n),
				dangerButton('Clear', `Remove the ${k} limit of '${x[who]}'?`, async () => {
					await api.del(api.path(kind, x[who], k));
					await refresh();
				}, 'clear-limit')]));
			const vr = rows(v, 'vhost', 'vhost-limits'), ur = rows(u, 'user', 'user-limits');
			replace(vl, vr.length ? table([{label: 'Virtual host'}, {label: 'Limit'}, {label: 'Value', cls: 'num'}, {label: ''}], vr)
				: h('p', {class: 'empty'}, 'No virtual host limits.'));
			replace(ul, ur.length ? table([{label: 'User'}, {label: 'Limit'}, {label: 'Value', cls: 'num'}, {label: ''}], ur)
				: h('p', {class: 'empty'}, 'No user limits.'));
		} catch (e) {
			replace(vl, errorBox(e));
		}
	}
	const vhosts = ctx.vhosts.length ? ctx.vhosts : ['/'];
	const setV = form([{name: 'vhost', label: 'Virtual host', type: 'select', options: vhosts, value: ctx.vhost || vhosts[0]},
		{name: 'limit', label: 'Limit', type: 'select', options: ['max-connections', 'max-queues']},
		{name: 'value', label: 'Value', type: 'number', required: true, hint: 'a negative value means no limit; 0 allows none'}], async x => {
		await api.put(api.path('vhost-limits', x.vhost, x.limit), {value: x.value});
		await refresh();
		return 'Limit set.';
	}, {submit: 'Set limit', test: 'set-vhost-limit'});
	const setU = form([{name: 'user', label: 'User', required: true},
		{name: 'limit', label: 'Limit', type: 'select', options: ['max-connections', 'max-channels']},
		{name: 'value', label: 'Value', type: 'number', required: true, hint: 'a negative value means no limit'}], async x => {
		await api.put(api.path('user-limits', x.user, x.limit), {value: x.value});
		await refresh();
		return 'Limit set.';
	}, {submit: 'Set limit', test: 'set-user-limit'});
	el.append(h('h1', null, 'Limits'),
		panel('Virtual host limits', vl, h('h3', null, 'Set a virtual host limit'), setV),
		panel('User limits', ul, h('h3', null, 'Set a user limit'), setU));
	await refresh();
	return {refresh};
}
