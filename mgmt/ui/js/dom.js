// dom.js: building elements without innerHTML. Every name, payload and reason from the broker
// goes in as text, so nothing the API returns can become markup.

// h('a', {href: '#/', class: 'x', onclick: fn, 'data-test': 'y'}, 'text', child, [more])
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	if (attrs) {
		for (const [k, v] of Object.entries(attrs)) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k.startsWith('on') && typeof v === 'function')
				el.addEventListener(k.slice(2), v);
			else if (k === 'class')
				el.className = v;
			else if (k === 'value')
				el.value = v;
			else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden')
				el[k] = !!v;
			else
				el.setAttribute(k, v === true ? '' : String(v));
		}
	}
	append(el, children);
	return el;
}

export function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			append(el, c);
		else if (c instanceof Node)
			el.appendChild(c);
		else
			el.appendChild(document.createTextNode(String(c)));
	}
	return el;
}

export function clear(el) {
	while (el.firstChild)
		el.removeChild(el.firstChild);
	return el;
}

export function replace(el, ...children) {
	clear(el);
	return append(el, children);
}

// A definition list of [label, value] pairs; null values are skipped.
export function facts(pairs) {
	const dl = h('dl', {class: 'facts'});
	for (const [k, v] of pairs) {
		if (v === null || v === undefined)
			continue;
		dl.appendChild(h('dt', null, k));
		dl.appendChild(h('dd', null, v));
	}
	return dl;
}

export function panel(title, ...children) {
	return h('section', {class: 'panel'}, title ? h('h2', null, title) : null, children);
}

// A collapsible panel; open unless told otherwise.
export function fold(title, open, ...children) {
	return h('details', {class: 'panel', open: open !== false}, h('summary', null, title), children);
}

// A plain table: columns [{label, cls}], rows of cell arrays.
export function table(columns, rows, attrs) {
	return h('div', {class: 'table-wrap'},
		h('table', attrs || null,
			h('thead', null, h('tr', null, columns.map(c =>
				h('th', {class: c.cls || null, scope: 'col'}, c.label)))),
			h('tbody', null, rows.map(r => h('tr', null, r.map((cell, i) =>
				h('td', {class: columns[i] && columns[i].cls || null}, cell)))))));
}

export function debounce(fn, ms) {
	let t = null;
	return (...args) => {
		clearTimeout(t);
		t = setTimeout(() => fn(...args), ms);
	};
}
