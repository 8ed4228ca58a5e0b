// main.js: the shell. Login, the menu the user's tags allow, the hash router (RabbitMQ's page
// addresses: #/queues/%2F/orders), the virtual-host selector, periodic refresh of the page on
// screen, and the banner shown while the broker cannot be reached.
import {h, clear, replace} from './dom.js';
import * as api from './api.js';
import {form, errorBox} from './forms.js';
import * as overview from './pages/overview.js';
import * as connections from './pages/connections.js';
import * as channels from './pages/channels.js';
import * as exchanges from './pages/exchanges.js';
import * as queues from './pages/queues.js';
import * as queue from './pages/queue.js';
import * as users from './pages/users.js';
import * as vhosts from './pages/vhosts.js';
import * as policies from './pages/policies.js';
import * as limits from './pages/limits.js';
import * as definitions from './pages/definitions.js';
import * as nodes from './pages/nodes.js';
import * as shovels from './pages/shovels.js';

const $ = id => document.getElementById(id);

// who: the tag a page needs ('management' is every user who can log in at all), or a list of
// tags any one of which will do
const routes = [
	{path: [], page: overview.page, nav: 'overview', title: 'Overview'},
	{path: ['connections'], page: connections.list, nav: 'connections', title: 'Connections'},
	{path: ['connections', ':name'], page: connections.detail, nav: 'connections', title: 'Connection'},
	{path: ['channels'], page: channels.list, nav: 'channels', title: 'Channels'},
	{path: ['channels', ':name'], page: channels.detail, nav: 'channels', title: 'Channel'},
	{path: ['exchanges'], page: exchanges.list, nav: 'exchanges', title: 'Exchanges'},
	{path: ['exchanges', ':vhost', ':name'], page: exchanges.detail, nav: 'exchanges', title: 'Exchange'},
	{path: ['queues'], page: queues.list, nav: 'queues', title: 'Queues'},
	{path: ['queues', ':vhost', ':name'], page: queue.detail, nav: 'queues', title: 'Queue'},
	{path: ['users'], page: users.list, nav: 'admin', sub: 'users', title: 'Users', who: 'administrator'},
	{path: ['users', ':name'], page: users.detail, nav: 'admin', sub: 'users', title: 'User', who: 'administrator'},
	{path: ['vhosts'], page: vhosts.list, nav: 'admin', sub: 'vhosts', title: 'Virtual hosts', who: 'administrator'},
	{path: ['vhosts', ':name'], page: vhosts.detail, nav: 'admin', sub: 'vhosts', title: 'Virtual host', who: 'administrator'},
	{path: ['policies'], page: policies.page, nav: 'admin', sub: 'policies', title: 'Policies', who: 'policymaker'},
	{path: ['limits'], page: limits.page, nav: 'admin', sub: 'limits', title: 'Limits', who: 'administrator'},
	{path: ['shovels'], page: shovels.page, nav: 'admin', sub: 'shovels', title: 'Shovels', who: ['policymaker', 'monitoring']},
	{path: ['definitions'], page: definitions.page, nav: 'admin', sub: 'definitions', title: 'Definitions', who: 'administrator'},
	{path: ['nodes'], page: nodes.list, nav: 'admin', sub: 'nodes', title: 'Nodes', who: 'monitoring'},
	{path: ['nodes', ':name'], page: nodes.detail, nav: 'admin', sub: 'nodes', title: 'Node', who: 'monitoring'},
];

const ctx = {
	user: null,
	vhost: sessionStorage.getItem('warren.vhost') || '',
	vhosts: [],
	overview: null,
	can(tag) {
		if (Array.isArray(tag))
			return tag.some(x => this.can(x));
		const t = this.user ? this.user.tags : [];
		if (t.includes('administrator'))
			return true;
		if (tag === 'monitoring')
			return t.includes('monitoring');
		if (tag === 'policymaker')
			return t.includes('policymaker');
		if (tag === 'administrator')
			return false;
		return true;
	},
	go(hash) {
		if (location.hash === hash)
			route();
		else
			location.hash = hash;
	},
	// the list endpoint for the selected vhost: base('queues') = '/api/queues' or '/api/queues/%2F'
	base(kind) {
		return this.vhost ? api.path(kind, this.vhost) : '/api/' + kind;
	},
};

let current = null; // {refresh, destroy} of the page on screen
let timer = null;
let retryTimer = null;

function tagsOf(u) {
	if (Array.isArray(u.tags))
		return u.tags;
	return String(u.tags || '').split(',').map(t => t.trim()).filter(Boolean);
}

// ---- login ----

function showLogin(message) {
	stopPage();
	$('top').hidden = true;
	document.title = 'Warren: log in';
	const main = $('main');
	const f = form([
		{name: 'username', label: 'Username', required: true, autocomplete: 'username'},
		{name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password'},
	], async v => {
		api.setCredentials(v.username, v.password);
		try {
			const who = await api.request('GET', '/api/whoami', {login: true});
			ctx.user = {name: who.name, tags: tagsOf(who)};
			api.saveUser(ctx.user);
		} catch (e) {
			api.clearCredentials();
			throw e;
		}
		start();
	}, {submit: 'Log in', test: 'login-form'});
	replace(main, h('div', {class: 'login panel'},
		h('h1', null, h('img', {src: '/favicon.svg', alt: '', width: 32, height: 32}), 'Warren'),
		message ? h('div', {class: 'form-error', role: 'alert', 'data-test': 'login-message'}, message) : null,
		f));
	f.inputs.username.focus();
}

function logout(message) {
	api.clearCredentials();
	ctx.user = null;
	showLogin(message);
}

// ---- the shell ----

function navLinks() {
	const links = [['#/', 'Overview', 'overview'], ['#/connections', 'Connections', 'connections'],
		['#/channels', 'Channels', 'channels'], ['#/exchanges', 'Exchanges', 'exchanges'],
		['#/queues', 'Queues', 'queues']];
	if (ctx.can('administrator'))
		links.push(['#/users', 'Admin', 'admin']);
	else if (ctx.can('policymaker'))
		links.push(['#/policies', 'Policies', 'admin']);
	else if (ctx.can('monitoring'))
		links.push(['#/nodes', 'Nodes', 'admin']);
	replace($('nav'), links.map(([href, label, key]) =>
		h('a', {href, 'data-nav': key, 'data-test': 'nav-' + key}, label)));
}

export function adminNav(active) {
	const items = [['users', 'Users', 'administrator'], ['vhosts', 'Virtual hosts', 'administrator'],
		['policies', 'Policies', 'policymaker'], ['limits', 'Limits', 'administrator'],
		['shovels', 'Shovels', ['policymaker', 'monitoring']],
		['definitions', 'Definitions', 'administrator'], ['nodes', 'Nodes', 'monitoring']];
	const shown = items.filter(([, , who]) => ctx.can(who));
	if (shown.length < 2)
		return null;
	return h('nav', {class: 'subnav', 'aria-label': 'Admin'}, shown.map(([k, label]) =>
		h('a', {href: '#/' + k, 'aria-current': k === active ? 'page' : null, 'data-test': 'subnav-' + k}, label)));
}

async function loadVhosts() {
	const sel = $('vhost-select');
	try {
		const list = await api.get('/api/vhosts?columns=name');
		ctx.vhosts = list.map(v => v.name);
	} catch (e) {
		ctx.vhosts = [];
	}
	if (ctx.vhost && !ctx.vhosts.includes(ctx.vhost))
		ctx.vhost = '';
	replace(sel, h('option', {value: ''}, 'All'),
		ctx.vhosts.map(v => h('option', {value: v, selected: v === ctx.vhost}, v)));
}

async function start() {
	$('top').hidden = false;
	$('whoami').textContent = `${ctx.user.name} (${ctx.user.tags.join(', ') || 'no tags'})`;
	navLinks();
	await loadVhosts();
	api.get('/api/overview?columns=product_name,product_version').then(o => {
		$('version').textContent = `${o.product_name || 'Warren'} ${o.product_version || ''}`;
	}).catch(() => {});
	route();
}

function stopPage() {
	if (current && current.destroy)
		current.destroy();
	current = null;
}

function parseHash() {
	const raw = location.hash.replace(/^#\/?/, '');
	if (!raw)
		return [];
	return raw.split('/').map(s => {
		try {
			return decodeURIComponent(s);
		} catch (e) {
			return s;
		}
	});
}

function match(segs) {
	for (const r of routes) {
		if (r.path.length !== segs.length)
			continue;
		const params = [];
		let ok = true;
		r.path.forEach((p, i) => {
			if (p.startsWith(':'))
				params.push(segs[i]);
			else if (p !== segs[i])
				ok = false;
		});
		if (ok)
			return {r, params};
	}
	return null;
}

async function route() {
	if (!ctx.user)
		return;
	stopPage();
	const main = $('main');
	main.removeAttribute('data-ready'); // set again once this page has rendered
	clear(main);
	const m = match(parseHash());
	for (const a of document.querySelectorAll('#nav a')) {
		if (m && a.dataset.nav === m.r.nav)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
	$('top').classList.remove('open');
	$('menu-toggle').setAttribute('aria-expanded', 'false');
	if (!m) {
		document.title = 'Warren: not found';
		replace(main, h('h1', null, 'Not found'), h('p', null, 'No page at this address. ', h('a', {href: '#/'}, 'Overview')));
		main.setAttribute('data-ready', location.hash || '#/');
		return;
	}
	document.title = 'Warren: ' + (m.params.length ? m.params[m.params.length - 1] || '(default)' : m.r.title);
	if (m.r.who && !ctx.can(m.r.who)) {
		replace(main, h('h1', null, m.r.title), errorBox({reason: `This page needs the ${[].concat(m.r.who).join(' or ')} tag.`}));
		main.setAttribute('data-ready', location.hash || '#/');
		return;
	}
	const el = h('div', {'data-page': m.r.sub || m.r.nav, 'data-test': 'page-' + (m.r.sub || m.r.nav)});
	main.appendChild(el);
	if (m.r.sub) {
		const sub = adminNav(m.r.sub);
		if (sub)
			el.appendChild(sub);
	}
	try {
		current = (await m.r.page(el, ctx, ...m.params)) || {};
	} catch (e) {
		el.appendChild(errorBox(e));
	}
	main.setAttribute('data-ready', location.hash || '#/');
	schedule();
}

function schedule() {
	clearInterval(timer);
	const ms = Number($('refresh-select').value);
	if (!ms)
		return;
	timer = setInterval(() => {
		if (document.hidden || api.isLost() || !current || !current.refresh)
			return;
		current.refresh().catch(() => {});
	}, ms);
}

// ---- connection lost ----

function showLost() {
	const banner = $('banner');
	let n = 3;
	banner.hidden = false;
	const tick = async () => {
		banner.textContent = `Lost the connection to the broker. Retrying in ${n} s…`;
		if (n-- > 0) {
			retryTimer = setTimeout(tick, 1000);
			return;
		}
		banner.textContent = 'Lost the connection to the broker. Retrying now…';
		try {
			await api.get('/api/whoami');
		} catch (e) {
			if (e.status === 0) {
				n = 5;
				retryTimer = setTimeout(tick, 1000);
			}
		}
	};
	clearTimeout(retryTimer);
	tick();
}

function showBack() {
	clearTimeout(retryTimer);
	const banner = $('banner');
	banner.hidden = true;
	banner.textContent = '';
	if (current && current.refresh)
		current.refresh().catch(() => {});
}

// ---- boot ----

function boot() {
	api.on('lost', showLost);
	api.on('back', showBack);
	api.on('unauthorized', e => logout(`Logged out: ${e.reason}. Please log in again.`));
	$('logout').addEventListener('click', () => logout('Logged out.'));
	$('refresh-select').value = sessionStorage.getItem('warren.refresh') || '5000';
	$('refresh-select').addEventListener('change', ev => {
		sessionStorage.setItem('warren.refresh', ev.target.value);
		schedule();
	});
	$('vhost-select').addEventListener('change', ev => {
		ctx.vhost = ev.target.value;
		sessionStorage.setItem('warren.vhost', ctx.vhost);
		route();
	});
	$('menu-toggle').addEventListener('click', () => {
		const open = $('top').classList.toggle('open');
		$('menu-toggle').setAttribute('aria-expanded', String(open));
	});
	window.addEventListener('hashchange', () => {
		route();
		$('main').focus({preventScroll: true});
	});
	ctx.user = api.hasCredentials() ? api.savedUser() : null;
	if (!ctx.user) {
		showLogin();
		return;
	}
	// Check the saved login still works (the password may have changed since).
	api.request('GET', '/api/whoami', {login: true}).then(who => {
		ctx.user = {name: who.name, tags: tagsOf(who)};
		api.saveUser(ctx.user);
		start();
	}).catch(e => {
		if (e.status === 0) {
			start();
			return;
		}
		logout(`Logged out: ${e.reason}. Please log in again.`);
	});
}

export {ctx};
boot();
