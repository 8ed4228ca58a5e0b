// table.js: the sortable, filterable, paged list every object page uses. With serverList the
// API does the work (page, page_size, name, use_regex, sort, sort_reverse, columns): the UI only
// ever holds one page, so a broker with 10,000 queues lists as fast as one with ten. clientList
// does the same in the browser for the few endpoints that are not paged (channels, policies).
import {h, clear, replace, debounce} from './dom.js';
import {get, query} from './api.js';
import {num} from './format.js';

const states = new Map(); // list key -> its filter, sort and page, kept while the tab lives

// opts: {key, columns: [{label, sort, cls, render(item)}], fetch(state), pageSize, sort,
//        empty, test, filter: true}
export function listView(opts) {
	const st = states.get(opts.key) || {page: 1, pageSize: opts.pageSize || 100, name: '', regex: false,
		sort: opts.sort || '', reverse: !!opts.reverse};
	states.set(opts.key, st);
	const err = h('div', {class: 'form-error', role: 'alert', hidden: true, 'data-test': 'list-error'});
	const summary = h('span', {class: 'muted', 'data-test': 'list-summary', 'aria-live': 'polite'});
	const filter = h('input', {type: 'search', placeholder: 'Filter by name', value: st.name,
		'aria-label': 'Filter by name', 'data-test': 'list-filter'});
	const regex = h('input', {type: 'checkbox', checked: st.regex, 'data-test': 'list-regex'});
	const size = h('select', {'aria-label': 'Items per page', 'data-test': 'list-page-size'},
		[20, 50, 100, 200, 500].map(n => h('option', {value: n, selected: n === st.pageSize}, `${n} per page`)));
	const tbody = h('tbody');
	const headRow = h('tr');
	const tableEl = h('table', {'data-test': opts.test || 'list', 'data-page': '0'}, h('thead', null, headRow), tbody);
	// The pager's buttons are made once and updated, so a refresh never takes the keyboard's
	// focus away from them.
	let pages = 1;
	const pageButton = (label, test, target) => h('button', {type: 'button', class: 'secondary', 'data-test': test,
		onclick: () => {
			st.page = Math.max(1, Math.min(pages, target()));
			load();
		}}, label);
	const toFirst = pageButton('« First', 'page-first', () => 1);
	const toPrev = pageButton('‹ Previous', 'page-prev', () => st.page - 1);
	const info = h('span', {'data-test': 'page-info'});
	const toNext = pageButton('Next ›', 'page-next', () => st.page + 1);
	const toLast = pageButton('Last »', 'page-last', () => pages);
	const pager = h('nav', {class: 'pager', 'aria-label': 'Pages'}, toFirst, toPrev, info, toNext, toLast);
	let seq = 0;

	function header() {
		clear(headRow);
		for (const c of opts.columns) {
			const th = h('th', {scope: 'col', class: c.cls || null});
			if (c.sort) {
				const active = st.sort === c.sort;
				if (active)
					th.setAttribute('aria-sort', st.reverse ? 'descending' : 'ascending');
				th.appendChild(h('button', {type: 'button', class: 'sort', 'data-test': 'sort-' + c.sort,
					onclick: () => {
						if (st.sort === c.sort)
							st.reverse = !st.reverse;
						else {
							st.sort = c.sort;
							st.reverse = false;
						}
						st.page = 1;
						header();
						load();
					}}, c.label));
			} else {
				th.textContent = c.label;
			}
			headRow.appendChild(th);
		}
	}

	async function load() {
		const mine = ++seq;
		let res;
		try {
			res = await opts.fetch({...st});
		} catch (e) {
			if (mine !== seq)
				return;
			if (e.error === 'page_out_of_range' && st.page > 1) {
				st.page = 1; // the list shrank under us
				return load();
			}
			err.textContent = e.reason || e.message;
			err.hidden = false;
			return;
		}
		if (mine !== seq)
			return;
		if (res.page)
			st.page = res.page;
		err.hidden = true;
		const rows = res.items.map(item => h('tr', null, opts.columns.map(c =>
			h('td', {class: c.cls || null}, c.render(item)))));
		// keep the keyboard's place: a focused link in the table is focused again after the refresh
		const focused = tbody.contains(document.activeElement) ? document.activeElement.getAttribute('href') : null;
		replace(tbody, rows.length ? rows : h('tr', null, h('td', {colspan: opts.columns.length, class: 'empty'},
			st.name ? 'Nothing matches the filter.' : (opts.empty || 'None.'))));
		if (focused)
			for (const a of tbody.querySelectorAll('a[href]'))
				if (a.getAttribute('href') === focused) {
					a.focus();
					break;
				}
		pages = Math.max(1, res.page_count || 1);
		const first = res.filtered_count ? (st.page - 1) * st.pageSize + 1 : 0;
		const last = Math.min(res.filtered_count, st.page * st.pageSize);
		summary.textContent = `${num(first)}–${num(last)} of ${num(res.filtered_count)}` +
			(res.filtered_count !== res.total_count ? ` (filtered from ${num(res.total_count)})` : '');
		toFirst.disabled = toPrev.disabled = st.page <= 1;
		toNext.disabled = toLast.disabled = st.page >= pages;
		info.textContent = `Page ${num(st.page)} of ${num(pages)}`;
		tableEl.setAttribute('data-page', String(st.page));
		tableEl.setAttribute('data-filter', st.name); // what this page was filtered by
		tableEl.setAttribute('data-loaded', String(mine));
	}

	const reload = debounce(() => {
		st.name = filter.value;
		st.page = 1;
		load();
	}, 250);
	filter.addEventListener('input', reload);
	regex.addEventListener('change', () => {
		st.regex = regex.checked;
		st.page = 1;
		load();
	});
	size.addEventListener('change', () => {
		st.pageSize = Number(size.value);
		st.page = 1;
		load();
	});
	header();
	const el = h('div', {class: 'list', 'data-test': (opts.test || 'list') + '-view'},
		opts.filter === false ? null : h('div', {class: 'list-controls'}, filter,
			h('label', {title: 'The filter is a regular expression'}, regex, ' Regex'), size, summary),
		err, h('div', {class: 'table-wrap'}, tableEl), pager);
	el.refresh = load;
	load();
	return el;
}

// A fetch function for a paged API list: base is '/api/queues' or '/api/queues/%2F'.
export function serverList(base, columns) {
	return st => get(base + query({page: st.page, page_size: st.pageSize, name: st.name,
		use_regex: st.regex && st.name ? 'true' : '', sort: st.sort, sort_reverse: st.reverse ? 'true' : '',
		columns: columns ? columns.join(',') : ''})).then(res => Array.isArray(res) ?
		pageLocally(res, st, x => x.name) : res);
}

// A fetch function for an endpoint that returns the whole list: load() -> array.
export function clientList(load, nameOf) {
	return async st => pageLocally(await load(), st, nameOf || (x => x.name));
}

function pick(obj, path) {
	return path.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
}

function pageLocally(all, st, nameOf) {
	let items = all;
	if (st.name) {
		let test;
		if (st.regex) {
			let re;
			try {
				re = new RegExp(st.name);
			} catch (e) {
				throw new Error('Invalid regular expression: ' + e.message);
			}
			test = s => re.test(s);
		} else {
			test = s => s.includes(st.name);
		}
		items = items.filter(x => test(String(nameOf(x) ?? '')));
	}
	if (st.sort) {
		items = items.slice().sort((a, b) => {
			const x = pick(a, st.sort), y = pick(b, st.sort);
			const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''));
			return st.reverse ? -c : c;
		});
	}
	const pageCount = Math.max(1, Math.ceil(items.length / st.pageSize));
	const page = Math.min(st.page, pageCount);
	return {items: items.slice((page - 1) * st.pageSize, page * st.pageSize), filtered_count: items.length,
		total_count: all.length, page_count: pageCount, page};
}
