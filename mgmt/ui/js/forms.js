// forms.js: forms whose API errors show next to them, the arguments editor, and the
// confirmation dialog every destructive action goes through.
import {h, append, clear} from './dom.js';

// A form: fields [{name, label, type, value, options, required, placeholder, hint, attrs}],
// onSubmit(values) -> a promise; its rejection's reason (an ApiError's text) is shown under the
// form, its resolution's string (if any) as a success note. opts: {submit, test, inline, danger}.
export function form(fields, onSubmit, opts = {}) {
	const inputs = {};
	const err = h('div', {class: 'form-error full', role: 'alert', hidden: true, 'data-test': 'form-error'});
	const note = h('div', {class: 'form-ok full', role: 'status', 'data-test': 'form-ok'});
	const button = h('button', {type: 'submit', class: opts.danger ? 'danger' : null,
		'data-test': 'submit'}, opts.submit || 'Save');
	const f = h('form', {class: opts.inline ? 'inline' : 'form', 'data-test': opts.test || null,
		novalidate: true});
	for (const fd of fields) {
		const id = 'f-' + Math.random().toString(36).slice(2);
		const input = field(fd, id);
		inputs[fd.name] = input;
		if (fd.type === 'checkbox' && !opts.inline) {
			f.appendChild(h('span', null));
			f.appendChild(h('label', null, input, ' ', fd.label));
		} else if (opts.inline) {
			f.appendChild(h('label', null, fd.label ? fd.label + ' ' : null, input));
		} else {
			f.appendChild(h('label', {class: 'l', for: id}, fd.label));
			f.appendChild(fd.hint ? h('div', null, input, h('div', {class: 'hint'}, fd.hint)) : input);
		}
	}
	f.appendChild(opts.inline ? button : h('div', {class: 'full actions'}, button));
	f.appendChild(err);
	f.appendChild(note);
	f.addEventListener('submit', async ev => {
		ev.preventDefault();
		err.hidden = true;
		note.textContent = '';
		const values = {};
		for (const fd of fields) {
			values[fd.name] = read(fd, inputs[fd.name]);
			if (fd.required && (values[fd.name] === '' || values[fd.name] === null)) {
				showError(err, `${fd.label} is required`);
				inputs[fd.name].focus();
				return;
			}
		}
		button.disabled = true;
		try {
			const msg = await onSubmit(values, inputs);
			if (typeof msg === 'string')
				note.textContent = msg;
		} catch (e) {
			showError(err, e.reason || e.message || String(e));
		} finally {
			button.disabled = false;
		}
	});
	f.inputs = inputs;
	return f;
}

export function showError(el, text) {
	el.textContent = text;
	el.hidden = false;
}

function field(fd, id) {
	const common = {id, name: fd.name, 'data-test': 'field-' + fd.name, placeholder: fd.placeholder || null,
		...(fd.attrs || {})};
	switch (fd.type) {
	case 'checkbox':
		return h('input', {type: 'checkbox', ...common, checked: !!fd.value});
	case 'select':
		return h('select', common, fd.options.map(o => {
			const [v, l] = Array.isArray(o) ? o : [o, o];
			return h('option', {value: v, selected: String(v) === String(fd.value ?? '')}, l);
		}));
	case 'textarea':
		return h('textarea', {...common, value: fd.value ?? ''});
	case 'kv':
		return kvEditor(fd.value || {}, common, fd.presets);
	case 'file':
		return h('input', {type: 'file', ...common, accept: fd.accept || null});
	default:
		return h('input', {type: fd.type || 'text', ...common, value: fd.value ?? '',
			autocomplete: fd.autocomplete || 'off', required: !!fd.required});
	}
}

function read(fd, input) {
	switch (fd.type) {
	case 'checkbox':
		return input.checked;
	case 'number':
		return input.value === '' ? null : Number(input.value);
	case 'kv':
		return input.read();
	case 'file':
		return input.files && input.files[0] ? input.files[0] : null;
	default:
		return input.value;
	}
}

// Key / value / type rows for AMQP tables (arguments, headers, policy definitions).
// presets: [[key, type, hint]] shown as buttons that add that key.
export function kvEditor(initial, attrs, presets) {
	const rows = h('div', {class: 'kv'});
	const box = h('div', {'data-test': attrs['data-test'] || null}, rows);
	const types = [['string', 'String'], ['number', 'Number'], ['boolean', 'Boolean'], ['json', 'JSON / list']];
	function addRow(k, v, type) {
		const key = h('input', {type: 'text', placeholder: 'key', value: k || '', 'aria-label': 'key',
			'data-test': 'kv-key'});
		const val = h('input', {type: 'text', placeholder: 'value', value: v ?? '', 'aria-label': 'value',
			'data-test': 'kv-value'});
		const sel = h('select', {'aria-label': 'type', 'data-test': 'kv-type'},
			types.map(([t, l]) => h('option', {value: t, selected: t === type}, l)));
		const rm = h('button', {type: 'button', class: 'secondary', 'aria-label': 'remove row',
			onclick: () => [key, val, sel, rm].forEach(e => e.remove())}, '×');
		append(rows, [key, val, sel, rm]);
		return {key, val};
	}
	for (const [k, v] of Object.entries(initial)) {
		const type = typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean'
			: typeof v === 'object' ? 'json' : 'string';
		addRow(k, type === 'json' ? JSON.stringify(v) : String(v), type);
	}
	addRow('', '', 'string');
	const tools = h('div', {class: 'hint'},
		h('button', {type: 'button', onclick: () => addRow('', '', 'string').key.focus()}, 'Add row'));
	if (presets) {
		append(tools, [' Add: ']);
		for (const [k, type, hint] of presets)
			append(tools, [h('button', {type: 'button', title: hint || null,
				onclick: () => addRow(k, '', type).val.focus()}, k), ' ']);
	}
	box.appendChild(tools);
	box.read = () => {
		const out = {};
		const cells = Array.from(rows.children);
		for (let i = 0; i + 2 < cells.length; i += 4) {
			const k = cells[i].value.trim(), raw = cells[i + 1].value, type = cells[i + 2].value;
			if (!k)
				continue;
			let v = raw;
			if (type === 'number') {
				v = Number(raw);
				if (raw.trim() === '' || Number.isNaN(v))
					throw new Error(`'${k}' needs a number`);
			} else if (type === 'boolean') {
				if (!/^(true|false)$/i.test(raw.trim()))
					throw new Error(`'${k}' needs true or false`);
				v = /^true$/i.test(raw.trim());
			} else if (type === 'json') {
				try {
					v = JSON.parse(raw);
				} catch (e) {
					throw new Error(`'${k}' is not valid JSON: ${e.message}`);
				}
			}
			out[k] = v;
		}
		return out;
	};
	box.focus = () => rows.querySelector('input').focus();
	return box;
}

// Asks before anything destructive; resolves true only on an explicit confirmation.
export function confirmAction(message, action = 'Confirm') {
	return new Promise(resolve => {
		const yes = h('button', {type: 'button', class: 'danger', 'data-test': 'confirm-yes'}, action);
		const no = h('button', {type: 'button', class: 'secondary', 'data-test': 'confirm-no'}, 'Cancel');
		const dlg = h('dialog', {'data-test': 'confirm', 'aria-labelledby': 'confirm-text'},
			h('p', {id: 'confirm-text'}, message), h('div', {class: 'actions'}, no, yes));
		const done = v => {
			dlg.close();
			dlg.remove();
			resolve(v);
		};
		yes.addEventListener('click', () => done(true));
		no.addEventListener('click', () => done(false));
		dlg.addEventListener('cancel', ev => {
			ev.preventDefault();
			done(false);
		});
		document.body.appendChild(dlg);
		dlg.showModal();
		no.focus();
	});
}

// A button that confirms, runs fn, and shows fn's error beside itself. opts.secondary: drawn as
// an ordinary button (an action that disrupts but destroys nothing, such as a restart).
export function dangerButton(label, message, fn, test, opts = {}) {
	const err = h('span', {class: 'form-error', role: 'alert', hidden: true, 'data-test': 'action-error'});
	const b = h('button', {type: 'button', class: opts.secondary ? 'secondary' : 'danger', 'data-test': test || null}, label);
	b.addEventListener('click', async () => {
		err.hidden = true;
		if (!(await confirmAction(message, label)))
			return;
		b.disabled = true;
		try {
			await fn();
		} catch (e) {
			showError(err, e.reason || e.message);
		} finally {
			b.disabled = false;
		}
	});
	return h('span', null, b, ' ', err);
}

export function errorBox(e) {
	return h('div', {class: 'form-error', role: 'alert', 'data-test': 'page-error'}, e.reason || e.message || String(e));
}

export {clear};
