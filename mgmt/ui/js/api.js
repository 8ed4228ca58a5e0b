// api.js: every call to the management HTTP API. Credentials live in sessionStorage (gone when
// the tab closes) and go out as HTTP Basic auth on each request, with X-Requested-With so a 401
// brings back the UI's own login form instead of the browser's dialog. A request that cannot
// reach the broker marks the connection lost (main.js shows a banner and retries); a 401 for the
// login itself (bad or expired credentials, not a management user) logs out.

const KEY = 'warren.credentials';
const USER_KEY = 'warren.user';
const listeners = {lost: [], back: [], unauthorized: []};
let lost = false;

export class ApiError extends Error {
	constructor(status, error, reason) {
		super(reason || error || `HTTP ${status}`);
		this.status = status;
		this.error = error;
		this.reason = reason || error || `HTTP ${status}`;
	}
}

export function on(event, fn) {
	listeners[event].push(fn);
}

function emit(event, arg) {
	for (const fn of listeners[event])
		fn(arg);
}

function utf8Base64(s) {
	const b = new TextEncoder().encode(s);
	let bin = '';
	for (const x of b)
		bin += String.fromCharCode(x);
	return btoa(bin);
}

export function setCredentials(user, password) {
	sessionStorage.setItem(KEY, utf8Base64(user + ':' + password));
}

export function hasCredentials() {
	return !!sessionStorage.getItem(KEY);
}

export function clearCredentials() {
	sessionStorage.removeItem(KEY);
	sessionStorage.removeItem(USER_KEY);
}

export function savedUser() {
	try {
		return JSON.parse(sessionStorage.getItem(USER_KEY) || 'null');
	} catch (e) {
		return null;
	}
}

export function saveUser(u) {
	sessionStorage.setItem(USER_KEY, JSON.stringify(u));
}

export function isLost() {
	return lost;
}

// The reasons RabbitMQ and Warren give when the login itself is refused.
const LOGIN_REFUSED = ['Login failed', 'Not management user', 'User can only log in via localhost',
	'Not_Authorized'];

// request('GET', '/api/overview') -> parsed JSON, or null for an empty reply; throws ApiError.
// opts.body: an object sent as JSON, or opts.text: a string sent as is; opts.headers: extra.
export async function request(method, path, opts = {}) {
	const headers = {'X-Requested-With': 'XMLHttpRequest', 'Accept': 'application/json'};
	const cred = sessionStorage.getItem(KEY);
	if (cred)
		headers['Authorization'] = 'Basic ' + cred;
	let body;
	if (opts.body !== undefined) {
		body = JSON.stringify(opts.body);
		headers['Content-Type'] = 'application/json';
	} else if (opts.text !== undefined) {
		body = opts.text;
		headers['Content-Type'] = 'application/json';
	}
	Object.assign(headers, opts.headers || {});
	let resp;
	try {
		resp = await fetch(path, {method, headers, body, cache: 'no-store', credentials: 'omit'});
	} catch (e) {
		if (!lost) {
			lost = true;
			emit('lost');
		}
		throw new ApiError(0, 'connection', 'Cannot reach the broker: ' + e.message);
	}
	if (lost) {
		lost = false;
		emit('back');
	}
	const text = await resp.text();
	let doc = null;
	if (text) {
		try {
			doc = JSON.parse(text);
		} catch (e) {
			doc = text;
		}
	}
	if (!resp.ok) {
		const error = doc && typeof doc === 'object' ? doc.error : null;
		let reason = doc && typeof doc === 'object' ? doc.reason : (typeof doc === 'string' ? doc.trim() : null);
		if (reason !== null && typeof reason === 'object')
			reason = JSON.stringify(reason);
		const err = new ApiError(resp.status, error, reason || resp.statusText);
		if (resp.status === 401 && LOGIN_REFUSED.includes(err.reason) && !opts.login)
			emit('unauthorized', err);
		throw err;
	}
	return doc;
}

export const get = (path, opts) => request('GET', path, opts);
export const put = (path, body) => request('PUT', path, {body});
export const post = (path, body) => request('POST', path, {body});
export const del = (path, opts) => request('DELETE', path, opts);

// Percent-encodes one path segment: "/" becomes %2F, "#" %23, "%" %25, spaces and Unicode too.
export const enc = encodeURIComponent;

// '/api/' + segments, each encoded: path('queues', '/', 'a b') = '/api/queues/%2F/a%20b'
export function path(...segments) {
	return '/api/' + segments.map(enc).join('/');
}

// A query string from an object, skipping empty values.
export function query(params) {
	const parts = [];
	for (const [k, v] of Object.entries(params))
		if (v !== undefined && v !== null && v !== '')
			parts.push(enc(k) + '=' + enc(String(v)));
	return parts.length ? '?' + parts.join('&') : '';
}
