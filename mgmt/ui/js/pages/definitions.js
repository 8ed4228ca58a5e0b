// pages/definitions.js: export the broker's definitions (users, vhosts, permissions, policies,
// queues, exchanges, bindings) as a JSON download, and import a file, for every vhost or one.
import {h, replace, panel} from '../dom.js';
import * as api from '../api.js';
import {form} from '../forms.js';
import * as fmt from '../format.js';

function counts(d) {
	return ['users', 'vhosts', 'permissions', 'topic_permissions', 'policies', 'queues', 'exchanges', 'bindings']
		.filter(k => Array.isArray(d[k])).map(k => `${fmt.num(d[k].length)} ${k.replace('_', ' ')}`).join(', ');
}

export async function page(el, ctx) {
	const vhosts = ['', ...ctx.vhosts];
	const exportResult = h('div', {role: 'status', 'data-test': 'export-result'});
	const exp = form([{name: 'vhost', label: 'Virtual host', type: 'select', options: vhosts.map(v => [v, v || 'All'])},
		{name: 'filename', label: 'File name', value: `warren-definitions-${new Date().toISOString().slice(0, 10)}.json`}], async v => {
		const d = await api.get(v.vhost ? api.path('definitions', v.vhost) : '/api/definitions');
		const text = JSON.stringify(d, null, 2);
		const url = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
		const a = h('a', {href: url, download: v.filename || 'definitions.json', hidden: true});
		document.body.appendChild(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 10000);
		replace(exportResult, `Exported ${counts(d)} (${fmt.bytes(text.length)}).`);
	}, {submit: 'Download definitions', test: 'export-form'});
	const importResult = h('div', {role: 'status', 'data-test': 'import-result'});
	const imp = form([{name: 'vhost', label: 'Into virtual host', type: 'select', options: vhosts.map(v => [v, v || 'All (as in the file)'])},
		{name: 'file', label: 'Definitions file', type: 'file', accept: '.json,application/json'},
		{name: 'text', label: 'or paste JSON', type: 'textarea'}], async v => {
		const text = v.file ? await v.file.text() : v.text;
		if (!text.trim())
			throw new Error('Choose a file or paste the definitions.');
		let doc;
		try {
			doc = JSON.parse(text);
		} catch (e) {
			throw new Error('The file is not JSON: ' + e.message);
		}
		await api.request('POST', v.vhost ? api.path('definitions', v.vhost) : '/api/definitions', {text});
		replace(importResult, `Imported ${counts(doc)}.`);
		return 'Definitions imported.';
	}, {submit: 'Upload definitions', test: 'import-form'});
	el.append(h('h1', null, 'Definitions'),
		panel('Export', h('p', {class: 'hint'}, 'Users (with password hashes), virtual hosts, permissions, policies, durable queues, exchanges and bindings, in RabbitMQ\'s format.'),
			exp, exportResult),
		panel('Import', h('p', {class: 'hint'}, 'A RabbitMQ 3.x or Warren export. The file is checked first: a bad file changes nothing.'),
			imp, importResult));
	return {};
}
