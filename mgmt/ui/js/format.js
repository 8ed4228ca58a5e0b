// format.js: numbers, sizes, rates and times as the pages show them.

export function num(n) {
	if (n === null || n === undefined || Number.isNaN(n))
		return '';
	return Number(n).toLocaleString('en-US');
}

export function rate(r) {
	if (r === null || r === undefined)
		return '';
	const v = Number(r);
	if (v === 0)
		return '0.0/s';
	return (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 10 ? 1 : 2)) + '/s';
}

export function bytes(n) {
	if (n === null || n === undefined)
		return '';
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let v = Number(n), i = 0;
	while (Math.abs(v) >= 1024 && i < units.length - 1) {
		v /= 1024;
		i++;
	}
	return (i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)) + ' ' + units[i];
}

export function duration(ms) {
	let s = Math.floor(Number(ms) / 1000);
	const d = Math.floor(s / 86400);
	s -= d * 86400;
	const hh = Math.floor(s / 3600);
	s -= hh * 3600;
	const mm = Math.floor(s / 60);
	s -= mm * 60;
	if (d)
		return `${d}d ${hh}h`;
	if (hh)
		return `${hh}h ${mm}m`;
	if (mm)
		return `${mm}m ${s}s`;
	return `${s}s`;
}

// ms since the epoch (connected_at) or seconds (AMQP timestamps, x-death times)
export function time(t, seconds) {
	if (t === null || t === undefined || t === '')
		return '';
	if (typeof t === 'string' && !/^\d+$/.test(t))
		return t;
	const d = new Date(Number(t) * (seconds ? 1000 : 1));
	if (Number.isNaN(d.getTime()))
		return String(t);
	const p = x => String(x).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
		`${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function bool(b) {
	return b ? 'yes' : 'no';
}

// A JSON value as compact readable text (arguments, headers).
export function value(v) {
	if (v === null || v === undefined)
		return '';
	if (typeof v === 'object')
		return JSON.stringify(v);
	return String(v);
}

export function pct(used, total) {
	return total ? Math.min(100, Math.round(used * 100 / total)) : 0;
}
