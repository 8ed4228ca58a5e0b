/* warrenctl_verbs: rabbitmqadmin's v1 verbs (list, show, declare, delete, close, purge, publish,
 * get, export, import), and Warren's stream read. Each object type is a row of a table: the URI
 * template, and its
 * name=value parameters with defaults and how each becomes JSON. The parse -> URI -> body steps
 * are shared; publish and get add their own stdin and payload-file handling. */
#include "warrenctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warrenctl_encoding.h"
#include "warrenctl_format.h"

enum verbs_param_flag {
	VERBS_MANDATORY = 1,
	VERBS_JSON = 2,	 /* value is parsed as JSON */
	VERBS_BOOL = 4,	 /* "true"/"false" -> JSON booleans */
	VERBS_URI = 8,	 /* only used in the URI, not sent in the body */
	VERBS_INT = 16,	 /* decimal integer */
	VERBS_ALT = 32,	 /* one of the ALT parameters is mandatory */
	VERBS_LOCAL = 64, /* used by warrenctl itself, never sent */
};

struct verbs_param {
	const char *name;
	const char *def; /* default, or NULL */
	unsigned flags;
};

struct verbs_object {
	const char *type;
	const char *method;
	const char *uri;
	struct verbs_param params[10];
};

#define M VERBS_MANDATORY
#define U VERBS_URI
#define J VERBS_JSON
#define B VERBS_BOOL

static const struct verbs_object verbs_declarable[] = {
	{ "exchange", "PUT", "/exchanges/{vhost}/{name}",
	  { { "name", NULL, M | U }, { "type", NULL, M }, { "auto_delete", "false", B },
	    { "durable", "true", B }, { "internal", "false", B }, { "arguments", "{}", J } } },
	{ "queue", "PUT", "/queues/{vhost}/{name}",
	  { { "name", NULL, M | U }, { "auto_delete", "false", B }, { "durable", "true", B },
	    { "arguments", "{}", J }, { "node", NULL, 0 }, { "queue_type", NULL, VERBS_LOCAL } } },
	{ "binding", "POST", "/bindings/{vhost}/e/{source}/{destination_char}/{destination}",
	  { { "source", NULL, M | U }, { "destination", NULL, M | U },
	    { "destination_type", "queue", U }, { "routing_key", "", 0 },
	    { "arguments", "{}", J } } },
	{ "vhost", "PUT", "/vhosts/{name}",
	  { { "name", NULL, M | U }, { "tracing", NULL, B }, { "description", NULL, 0 },
	    { "tags", NULL, 0 }, { "default_queue_type", NULL, 0 } } },
	{ "user", "PUT", "/users/{name}",
	  { { "name", NULL, M | U }, { "password", NULL, VERBS_ALT },
	    { "password_hash", NULL, VERBS_ALT }, { "tags", NULL, M },
	    { "hashing_algorithm", NULL, 0 } } },
	{ "permission", "PUT", "/permissions/{vhost}/{user}",
	  { { "vhost", NULL, M | U }, { "user", NULL, M | U }, { "configure", NULL, M },
	    { "write", NULL, M }, { "read", NULL, M } } },
	{ "parameter", "PUT", "/parameters/{component}/{vhost}/{name}",
	  { { "component", NULL, M | U }, { "name", NULL, M | U }, { "value", NULL, M | J } } },
	{ "policy", "PUT", "/policies/{vhost}/{name}",
	  { { "name", NULL, M | U }, { "pattern", NULL, M }, { "definition", NULL, M | J },
	    { "priority", "0", VERBS_INT }, { "apply-to", NULL, 0 } } },
	{ "operator_policy", "PUT", "/operator-policies/{vhost}/{name}",
	  { { "name", NULL, M | U }, { "pattern", NULL, M }, { "definition", NULL, M | J },
	    { "priority", "0", VERBS_INT }, { "apply-to", NULL, 0 } } },
	{ "vhost_limit", "PUT", "/vhost-limits/{vhost}/{name}",
	  { { "vhost", NULL, M | U }, { "name", NULL, M | U }, { "value", NULL, M | J } } },
	{ NULL, NULL, NULL, { { NULL, NULL, 0 } } },
};

static const struct verbs_object verbs_deletable[] = {
	{ "exchange", "DELETE", "/exchanges/{vhost}/{name}", { { "name", NULL, M | U } } },
	{ "queue", "DELETE", "/queues/{vhost}/{name}", { { "name", NULL, M | U } } },
	{ "binding", "DELETE",
	  "/bindings/{vhost}/e/{source}/{destination_char}/{destination}/{properties_key}",
	  { { "source", NULL, M | U }, { "destination", NULL, M | U },
	    { "destination_type", "queue", U }, { "properties_key", NULL, U },
	    { "routing_key", NULL, VERBS_LOCAL } } },
	{ "vhost", "DELETE", "/vhosts/{name}", { { "name", NULL, M | U } } },
	{ "user", "DELETE", "/users/{name}", { { "name", NULL, M | U } } },
	{ "permission", "DELETE", "/permissions/{vhost}/{user}",
	  { { "vhost", NULL, M | U }, { "user", NULL, M | U } } },
	{ "parameter", "DELETE", "/parameters/{component}/{vhost}/{name}",
	  { { "component", NULL, M | U }, { "name", NULL, M | U } } },
	{ "policy", "DELETE", "/policies/{vhost}/{name}", { { "name", NULL, M | U } } },
	{ "operator_policy", "DELETE", "/operator-policies/{vhost}/{name}",
	  { { "name", NULL, M | U } } },
	{ "vhost_limit", "DELETE", "/vhost-limits/{vhost}/{name}",
	  { { "vhost", NULL, M | U }, { "name", NULL, M | U } } },
	{ NULL, NULL, NULL, { { NULL, NULL, 0 } } },
};

static const struct verbs_object verbs_closable[] = {
	{ "connection", "DELETE", "/connections/{name}", { { "name", NULL, M | U } } },
	{ NULL, NULL, NULL, { { NULL, NULL, 0 } } },
};

static const struct verbs_object verbs_purgable[] = {
	{ "queue", "DELETE", "/queues/{vhost}/{name}/contents", { { "name", NULL, M | U } } },
	{ NULL, NULL, NULL, { { NULL, NULL, 0 } } },
};

static const struct verbs_object verbs_publish = {
	"publish", "POST", "/exchanges/{vhost}/{exchange}/publish",
	{ { "routing_key", NULL, M }, { "payload", NULL, 0 }, { "properties", "{}", J },
	  { "exchange", "amq.default", U }, { "payload_encoding", "string", 0 } }
};

static const struct verbs_object verbs_get = {
	"get", "POST", "/queues/{vhost}/{queue}/get",
	{ { "queue", NULL, M | U }, { "count", "1", VERBS_INT },
	  { "ackmode", "ack_requeue_true", 0 }, { "encoding", "auto", 0 },
	  { "truncate", NULL, VERBS_INT }, { "payload_file", NULL, VERBS_LOCAL } }
};

/* Warren: a stream read from an offset or a time, without a consumer (the management API's
 * get with an offset). */
static const struct verbs_object verbs_stream_read = {
	"read", "POST", "/queues/{vhost}/{name}/get",
	{ { "name", NULL, M | U }, { "offset", "first", 0 }, { "count", "10", VERBS_INT },
	  { "encoding", "auto", 0 }, { "truncate", NULL, VERBS_INT } }
};

#undef M
#undef U
#undef J
#undef B

struct verbs_listable {
	const char *type;
	bool per_vhost;
	const char *cols[4];
	const char *json_keys[2];
};

static const struct verbs_listable verbs_lists[] = {
	{ "connections", false, { "name", "user", "channels" }, { NULL } },
	{ "channels", false, { "name", "user" }, { NULL } },
	{ "consumers", true, { NULL }, { NULL } },
	{ "exchanges", true, { "name", "type" }, { NULL } },
	{ "queues", true, { "name", "messages" }, { NULL } },
	{ "bindings", true, { "source", "destination", "routing_key" }, { NULL } },
	{ "users", false, { NULL }, { NULL } },
	{ "vhosts", false, { "name", "messages" }, { NULL } },
	{ "permissions", false, { NULL }, { NULL } },
	{ "nodes", false, { "name", "type", "mem_used" }, { NULL } },
	{ "parameters", false, { NULL }, { "value" } },
	{ "shovels", true, { "name", "vhost", "state" }, { NULL } },
	{ "policies", false, { NULL }, { "definition" } },
	{ "operator_policies", false, { NULL }, { "definition" } },
	{ "vhost_limits", false, { NULL }, { "value" } },
	{ NULL, false, { NULL }, { NULL } },
};

static const char *const verbs_overview_cols[] = {
	"rabbitmq_version", "cluster_name", "queue_totals.messages", "object_totals.queues",
};

static const struct verbs_object *verbs_find(const struct verbs_object *table, const char *type)
{
	for (; table->type; table++)
		if (strcmp(table->type, type) == 0)
			return table;
	return NULL;
}

static const struct verbs_param *verbs_param_find(const struct verbs_object *obj,
						  const char *name)
{
	for (const struct verbs_param *p = obj->params; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

/* name=value words -> values (name -> string), defaults filled in, mandatory ones checked. */
static int verbs_parse(const struct verbs_object *obj, const char *topic, char **args, int n,
		       json_t *values)
{
	bool alt_needed = false, alt_seen = false;

	for (int i = 0; i < n; i++) {
		const char *eq = strchr(args[i], '=');
		char name[128];
		size_t len;
		if (!eq)
			return warrenctl_usage_error(topic, "argument \"%s\" is not in the "
							    "name=value format", args[i]);
		len = (size_t)(eq - args[i]);
		if (len >= sizeof name)
			len = sizeof name - 1;
		memcpy(name, args[i], len);
		name[len] = '\0';
		if (strcmp(name, "apply_to") == 0)
			strcpy(name, "apply-to"); /* rabbitmqadmin spells it apply-to */
		if (!verbs_param_find(obj, name))
			return warrenctl_usage_error(topic, "argument \"%s\" is not recognised "
							    "for %s", name, obj->type);
		json_object_set_new(values, name, json_string(eq + 1));
	}
	for (const struct verbs_param *p = obj->params; p->name; p++) {
		bool given = json_object_get(values, p->name) != NULL;
		if (p->flags & VERBS_ALT) {
			alt_needed = true;
			alt_seen |= given;
		}
		if (!given && (p->flags & VERBS_MANDATORY))
			return warrenctl_usage_error(topic, "mandatory argument \"%s\" is "
							    "required", p->name);
		if (!given && p->def)
			json_object_set_new(values, p->name, json_string(p->def));
	}
	if (alt_needed && !alt_seen)
		return warrenctl_usage_error(topic, "one of password=... or password_hash=... is "
						    "required");
	return 0;
}

static const char *verbs_value(const json_t *values, const char *name)
{
	return json_string_value(json_object_get(values, name));
}

/* Fills {key} placeholders with percent-encoded values; {vhost} falls back to -V/"/". */
static char *verbs_uri(const struct warrenctl *w, const char *tmpl, const json_t *values)
{
	size_t cap = strlen(tmpl) + 1;
	char *out = NULL, *p = NULL;
	const char *s;

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && !(out = p = malloc(cap)))
			return NULL;
		for (s = tmpl; *s;) {
			const char *close;
			char key[64], one[2] = { 0, 0 };
			const char *v;
			char *enc;
			if (*s != '{' || !(close = strchr(s, '}'))) {
				if (pass == 1)
					*p++ = *s;
				s++;
				continue;
			}
			snprintf(key, sizeof key, "%.*s", (int)(close - s - 1), s + 1);
			s = close + 1;
			if (strcmp(key, "destination_char") == 0) {
				one[0] = verbs_value(values, "destination_type")[0];
				v = one;
			} else if (!(v = verbs_value(values, key))) {
				v = strcmp(key, "vhost") == 0 ? warrenctl_target_vhost(w) : "";
			}
			enc = warrenctl_encoding_url(v);
			if (!enc) {
				free(out);
				return NULL;
			}
			if (pass == 0) {
				cap += strlen(enc);
			} else {
				strcpy(p, enc);
				p += strlen(enc);
			}
			free(enc);
		}
	}
	*p = '\0';
	return out;
}

/* values -> the JSON body: every parameter not used in the URI, converted by its flags. */
static int verbs_body(const struct verbs_object *obj, const char *topic, const json_t *values,
		      json_t **out)
{
	json_t *body = json_object();

	for (const struct verbs_param *p = obj->params; p->name; p++) {
		const char *v = verbs_value(values, p->name);
		json_t *j;
		json_error_t err;
		char *end;
		if (!v || (p->flags & (VERBS_URI | VERBS_LOCAL)))
			continue;
		if (p->flags & VERBS_JSON) {
			j = json_loads(v, JSON_DECODE_ANY, &err);
			if (!j) {
				json_decref(body);
				return warrenctl_usage_error(topic, "bad JSON in %s=%s: %s",
							     p->name, v, err.text);
			}
		} else if (p->flags & VERBS_BOOL) {
			if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0 &&
			    strcmp(v, "True") != 0 && strcmp(v, "False") != 0) {
				json_decref(body);
				return warrenctl_usage_error(topic, "%s must be true or false, not "
								    "'%s'", p->name, v);
			}
			j = json_boolean(v[0] == 't' || v[0] == 'T');
		} else if (p->flags & VERBS_INT) {
			long long n = strtoll(v, &end, 10);
			if (!*v || *end) {
				json_decref(body);
				return warrenctl_usage_error(topic, "%s must be an integer, "
								    "not '%s'", p->name, v);
			}
			j = json_integer(n);
		} else {
			j = json_string(v);
		}
		json_object_set_new(body, p->name, j);
	}
	*out = body;
	return 0;
}

static int verbs_send_json(struct warrenctl *w, const char *method, const char *uri,
			   const json_t *body, json_t **reply, char **raw)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc = warrenctl_call(w, method, uri, text, reply, raw);

	free(text);
	return rc;
}

/* delete binding without properties_key: ask the API which binding has this routing key. */
static void verbs_find_properties_key(struct warrenctl *w, const json_t *values, char **key)
{
	char *uri = verbs_uri(w, "/bindings/{vhost}/e/{source}/{destination_char}/{destination}",
			      values);
	const char *want = verbs_value(values, "routing_key");
	json_t *list = NULL, *b, *match = NULL;
	size_t i, hits = 0;

	if (uri && warrenctl_call(w, "GET", uri, NULL, &list, NULL) == 0) {
		json_array_foreach(list, i, b) {
			const char *rk = json_string_value(json_object_get(b, "routing_key"));
			if (!want || (rk && strcmp(rk, want) == 0)) {
				match = b;
				hits++;
			}
		}
		if (hits == 1 && json_is_string(json_object_get(match, "properties_key")))
			*key = strdup(json_string_value(json_object_get(match, "properties_key")));
	}
	json_decref(list);
	free(uri);
}

/* declare, delete, close, purge: parse, build the URI and body, send, say what happened. */
static int verbs_object_verb(struct warrenctl *w, const char *verb,
			     const struct verbs_object *table, const char *done)
{
	const struct verbs_object *obj;
	json_t *values = json_object(), *body = NULL;
	char *uri = NULL, *found_key = NULL;
	int rc;

	if (w->arg_count < 1) {
		rc = warrenctl_usage_error(verb, "%s needs an object type", verb);
		goto out;
	}
	if (!(obj = verbs_find(table, w->args[0]))) {
		rc = warrenctl_usage_error(verb, "type '%s' not recognised for %s", w->args[0],
					   verb);
		goto out;
	}
	if ((rc = verbs_parse(obj, verb, w->args + 1, w->arg_count - 1, values)) != 0)
		goto out;
	if (verbs_value(values, "destination_type") &&
	    strcmp(verbs_value(values, "destination_type"), "queue") != 0 &&
	    strcmp(verbs_value(values, "destination_type"), "exchange") != 0) {
		rc = warrenctl_usage_error(verb, "destination_type must be queue or exchange");
		goto out;
	}
	if (strcmp(verb, "delete") == 0 && strcmp(obj->type, "binding") == 0 &&
	    !verbs_value(values, "properties_key")) {
		verbs_find_properties_key(w, values, &found_key);
		json_object_set_new(values, "properties_key",
				    json_string(found_key ? found_key : "~"));
	}
	if (strcmp(obj->method, "DELETE") != 0) {
		if ((rc = verbs_body(obj, verb, values, &body)) != 0)
			goto out;
		if (verbs_value(values, "queue_type")) {
			json_t *args = json_object_get(body, "arguments");
			json_object_set_new(args, "x-queue-type",
					    json_string(verbs_value(values, "queue_type")));
		}
	}
	if (!(uri = verbs_uri(w, obj->uri, values))) {
		rc = WARRENCTL_EXIT_UNREACHABLE;
		goto out;
	}
	if ((rc = verbs_send_json(w, obj->method, uri, body, NULL, NULL)) != 0)
		goto out;
	if (w->verbose)
		printf("%s %s\n", obj->type, done);
out:
	free(found_key);
	free(uri);
	json_decref(body);
	json_decref(values);
	return rc;
}

static void verbs_format_opts(const struct warrenctl *w, struct warrenctl_format_opts *o,
			      const char *const *json_keys)
{
	o->format = w->format;
	o->depth = w->depth;
	o->verbose = w->verbose;
	o->json_keys = json_keys;
	o->sort = w->sort;
	o->sort_reverse = w->sort_reverse;
}

/* rabbitmqadmin applies default columns only for depth 1 and non-JSON formats. */
static bool verbs_use_default_cols(const struct warrenctl *w)
{
	return w->depth == 1 && !strstr(w->format, "json");
}

static int verbs_list(struct warrenctl *w)
{
	const struct verbs_listable *l = verbs_lists;
	struct warrenctl_format_opts o;
	const char *const *cols;
	char uri[2048], *raw = NULL, *vh = NULL;
	json_t *items = NULL;
	int col_count, rc;
	size_t at;

	if (w->arg_count < 1)
		return warrenctl_usage_error("list", "list needs an object type");
	while (l->type && strcmp(l->type, w->args[0]) != 0)
		l++;
	if (!l->type)
		return warrenctl_usage_error("list", "don't know how to list %s", w->args[0]);
	cols = (const char *const *)w->args + 1;
	col_count = w->arg_count - 1;
	if (col_count == 0 && l->cols[0] && verbs_use_default_cols(w)) {
		cols = l->cols;
		while (col_count < 4 && cols[col_count])
			col_count++;
	}
	at = (size_t)snprintf(uri, sizeof uri, "/");
	for (const char *s = l->type; *s && at < sizeof uri - 1; s++)
		uri[at++] = *s == '_' ? '-' : *s;
	uri[at] = '\0';
	if (l->per_vhost && w->vhost) {
		vh = warrenctl_encoding_url(w->vhost);
		at += (size_t)snprintf(uri + at, sizeof uri - at, "/%s", vh ? vh : "");
	}
	for (int c = 0; c < col_count; c++)
		at += (size_t)snprintf(uri + at, sizeof uri - at, "%s%s", c ? "," : "?columns=",
				       cols[c]);
	if (w->sort)
		at += (size_t)snprintf(uri + at, sizeof uri - at, "%ssort=%s",
				       col_count ? "&" : "?", w->sort);
	if (w->sort_reverse && w->sort)
		snprintf(uri + at, sizeof uri - at, "&sort_reverse=true");
	if ((rc = warrenctl_call(w, "GET", uri, NULL, &items, &raw)) != 0)
		goto out;
	if (!json_is_array(items)) {
		fprintf(stderr, "warrenctl: expected a JSON list from GET /api%s\n", uri);
		rc = WARRENCTL_EXIT_HTTP;
		goto out;
	}
	/* a cluster's nodes have a role: show it, whether they are in sync and how far behind */
	static const char *const cluster_node_cols[] = { "name", "role", "in_sync", "lag_bytes",
							  "running" };
	if (cols == l->cols && strcmp(l->type, "nodes") == 0 &&
	    json_object_get(json_array_get(items, 0), "role")) {
		cols = cluster_node_cols;
		col_count = 5;
	}
	verbs_format_opts(w, &o, l->json_keys);
	warrenctl_format_print(items, raw, cols, col_count, &o);
out:
	free(vh);
	free(raw);
	json_decref(items);
	return rc;
}

static int verbs_show(struct warrenctl *w)
{
	struct warrenctl_format_opts o;
	const char *const *cols = (const char *const *)w->args + 1;
	int col_count = w->arg_count - 1, rc;
	json_t *doc = NULL, *items;
	char *raw = NULL, *wrapped;

	if (w->arg_count < 1 || strcmp(w->args[0], "overview") != 0)
		return warrenctl_usage_error("show", "don't know how to show %s",
					     w->arg_count ? w->args[0] : "nothing");
	if (col_count == 0 && verbs_use_default_cols(w)) {
		cols = verbs_overview_cols;
		col_count = 4;
	}
	if ((rc = warrenctl_call(w, "GET", "/overview", NULL, &doc, &raw)) != 0)
		goto out;
	items = json_array();
	json_array_append(items, doc);
	wrapped = malloc(strlen(raw) + 3);
	if (wrapped)
		sprintf(wrapped, "[%s]", raw);
	verbs_format_opts(w, &o, NULL);
	warrenctl_format_print(items, wrapped, cols, col_count, &o);
	free(wrapped);
	json_decref(items);
out:
	free(raw);
	json_decref(doc);
	return rc;
}

static char *verbs_read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0, got;
	char *buf = malloc(cap), *bigger;

	while (buf && (got = fread(buf + n, 1, cap - n, stdin)) > 0) {
		n += got;
		if (n == cap) {
			if (!(bigger = realloc(buf, cap * 2))) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	*len = n;
	return buf;
}

static int verbs_publish_run(struct warrenctl *w)
{
	json_t *values = json_object(), *body = NULL, *reply = NULL;
	char *uri = NULL, *data = NULL, *b64 = NULL;
	const char *exchange;
	size_t len;
	int rc;

	if ((rc = verbs_parse(&verbs_publish, "publish", w->args, w->arg_count, values)) != 0)
		goto out;
	exchange = verbs_value(values, "exchange");
	if (!exchange[0]) /* exchange= means the default exchange */
		json_object_set_new(values, "exchange", json_string("amq.default"));
	if (!verbs_value(values, "payload")) {
		if (!(data = verbs_read_stdin(&len)) ||
		    !(b64 = warrenctl_encoding_base64((unsigned char *)data, len))) {
			fputs("warrenctl: could not read the payload from stdin\n", stderr);
			rc = WARRENCTL_EXIT_USAGE;
			goto out;
		}
		json_object_set_new(values, "payload", json_string(b64));
		json_object_set_new(values, "payload_encoding", json_string("base64"));
	}
	if ((rc = verbs_body(&verbs_publish, "publish", values, &body)) != 0)
		goto out;
	if (!(uri = verbs_uri(w, verbs_publish.uri, values)))
		goto out;
	if ((rc = verbs_send_json(w, "POST", uri, body, &reply, NULL)) != 0)
		goto out;
	if (w->verbose && json_is_true(json_object_get(reply, "routed")))
		puts("Message published");
	else if (w->verbose)
		puts("Message published but NOT routed");
out:
	free(data);
	free(b64);
	free(uri);
	json_decref(reply);
	json_decref(body);
	json_decref(values);
	return rc;
}

static int verbs_write_payload(const char *path, const json_t *msg)
{
	const char *payload = json_string_value(json_object_get(msg, "payload"));
	const char *enc = json_string_value(json_object_get(msg, "payload_encoding"));
	unsigned char *bytes = NULL;
	size_t len = 0;
	FILE *f;
	int rc = 0;

	if (!payload)
		return 0;
	if (enc && strcmp(enc, "base64") == 0) {
		bytes = warrenctl_encoding_unbase64(payload, &len);
	} else {
		bytes = (unsigned char *)strdup(payload);
		len = strlen(payload);
	}
	if (!bytes || !(f = fopen(path, "wb"))) {
		fprintf(stderr, "warrenctl: cannot write payload to '%s'\n", path);
		free(bytes);
		return WARRENCTL_EXIT_USAGE;
	}
	if (fwrite(bytes, 1, len, f) != len)
		rc = WARRENCTL_EXIT_USAGE;
	if (fclose(f) != 0)
		rc = WARRENCTL_EXIT_USAGE;
	free(bytes);
	return rc;
}

static int verbs_get_run(struct warrenctl *w)
{
	static const char *const file_cols[] = {
		"routing_key", "exchange", "message_count", "payload_bytes", "redelivered",
	};
	struct warrenctl_format_opts o;
	json_t *values = json_object(), *body = NULL, *reply = NULL;
	char *uri = NULL, *raw = NULL;
	const char *payload_file;
	int rc;

	if ((rc = verbs_parse(&verbs_get, "get", w->args, w->arg_count, values)) != 0)
		goto out;
	payload_file = verbs_value(values, "payload_file");
	if (payload_file && strcmp(verbs_value(values, "count"), "1") != 0) {
		rc = warrenctl_usage_error("get", "payload_file needs count=1");
		goto out;
	}
	if ((rc = verbs_body(&verbs_get, "get", values, &body)) != 0)
		goto out;
	if (!(uri = verbs_uri(w, verbs_get.uri, values)))
		goto out;
	if ((rc = verbs_send_json(w, "POST", uri, body, &reply, &raw)) != 0)
		goto out;
	verbs_format_opts(w, &o, NULL);
	if (payload_file && json_array_size(reply) > 0) {
		if ((rc = verbs_write_payload(payload_file, json_array_get(reply, 0))) != 0)
			goto out;
		warrenctl_format_print(reply, raw, file_cols, 5, &o);
	} else {
		warrenctl_format_print(reply, raw, NULL, 0, &o);
	}
out:
	free(raw);
	free(uri);
	json_decref(reply);
	json_decref(body);
	json_decref(values);
	return rc;
}

/* stream read name=... [offset=first|last|next|N|10m|@<epoch s>] [count=10] */
static int verbs_stream_run(struct warrenctl *w)
{
	static const char *const cols[] = { "offset", "timestamp", "routing_key", "payload" };
	struct warrenctl_format_opts o;
	json_t *values = json_object(), *body = NULL, *reply = NULL;
	char *uri = NULL, *raw = NULL;
	int rc;

	if (w->arg_count < 1 || strcmp(w->args[0], "read") != 0) {
		rc = warrenctl_usage_error("stream", "stream needs 'read' (stream read name=... "
						     "offset=first count=10)");
		goto out;
	}
	if ((rc = verbs_parse(&verbs_stream_read, "stream read", w->args + 1, w->arg_count - 1,
			      values)) != 0)
		goto out;
	if ((rc = verbs_body(&verbs_stream_read, "stream read", values, &body)) != 0)
		goto out;
	if (!(uri = verbs_uri(w, verbs_stream_read.uri, values))) {
		rc = WARRENCTL_EXIT_UNREACHABLE;
		goto out;
	}
	if ((rc = verbs_send_json(w, "POST", uri, body, &reply, &raw)) != 0)
		goto out;
	verbs_format_opts(w, &o, NULL);
	warrenctl_format_print(reply, raw, cols, 4, &o);
out:
	free(raw);
	free(uri);
	json_decref(reply);
	json_decref(body);
	json_decref(values);
	return rc;
}

static int verbs_definitions_uri(const struct warrenctl *w, char *uri, size_t len)
{
	char *vh;

	if (!w->vhost) {
		snprintf(uri, len, "/definitions");
		return 0;
	}
	if (!(vh = warrenctl_encoding_url(w->vhost)))
		return -1;
	snprintf(uri, len, "/definitions/%s", vh);
	free(vh);
	return 0;
}

static int verbs_export(struct warrenctl *w)
{
	char uri[1024], *raw = NULL;
	FILE *f;
	int rc;

	if (w->arg_count != 1)
		return warrenctl_usage_error("export", "export takes exactly one file name");
	if (verbs_definitions_uri(w, uri, sizeof uri) != 0)
		return WARRENCTL_EXIT_UNREACHABLE;
	if ((rc = warrenctl_call(w, "GET", uri, NULL, NULL, &raw)) != 0)
		return rc;
	f = strcmp(w->args[0], "-") == 0 ? stdout : fopen(w->args[0], "wb");
	if (!f) {
		fprintf(stderr, "warrenctl: cannot write '%s'\n", w->args[0]);
		rc = WARRENCTL_EXIT_USAGE;
		goto out;
	}
	fputs(raw ? raw : "", f);
	if (f != stdout && fclose(f) != 0) {
		fprintf(stderr, "warrenctl: cannot write '%s'\n", w->args[0]);
		rc = WARRENCTL_EXIT_USAGE;
		goto out;
	}
	if (w->verbose && f != stdout)
		printf("Exported definitions for %s to \"%s\"\n", w->host, w->args[0]);
out:
	free(raw);
	return rc;
}

static int verbs_import(struct warrenctl *w)
{
	char uri[1024], *text = NULL;
	json_error_t err;
	json_t *doc = NULL;
	int rc;

	if (w->arg_count != 1)
		return warrenctl_usage_error("import", "import takes exactly one file name");
	doc = strcmp(w->args[0], "-") == 0 ? json_loadf(stdin, 0, &err)
					   : json_load_file(w->args[0], 0, &err);
	if (!doc) {
		fprintf(stderr, "warrenctl: cannot read definitions from '%s': %s (line %d)\n",
			w->args[0], err.text, err.line);
		return WARRENCTL_EXIT_USAGE;
	}
	if (verbs_definitions_uri(w, uri, sizeof uri) != 0 ||
	    !(text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17)))) {
		rc = WARRENCTL_EXIT_UNREACHABLE;
		goto out;
	}
	if ((rc = warrenctl_call(w, "POST", uri, text, NULL, NULL)) != 0)
		goto out;
	if (w->verbose)
		printf("Imported definitions from \"%s\" to %s\n", w->args[0], w->host);
out:
	free(text);
	json_decref(doc);
	return rc;
}

int warrenctl_verbs_run(struct warrenctl *w, const char *verb)
{
	if (strcmp(verb, "list") == 0)
		return verbs_list(w);
	if (strcmp(verb, "show") == 0)
		return verbs_show(w);
	if (strcmp(verb, "declare") == 0)
		return verbs_object_verb(w, verb, verbs_declarable, "declared");
	if (strcmp(verb, "delete") == 0)
		return verbs_object_verb(w, verb, verbs_deletable, "deleted");
	if (strcmp(verb, "close") == 0)
		return verbs_object_verb(w, verb, verbs_closable, "closed");
	if (strcmp(verb, "purge") == 0)
		return verbs_object_verb(w, verb, verbs_purgable, "purged");
	if (strcmp(verb, "publish") == 0)
		return verbs_publish_run(w);
	if (strcmp(verb, "get") == 0)
		return verbs_get_run(w);
	if (strcmp(verb, "stream") == 0)
		return verbs_stream_run(w);
	if (strcmp(verb, "export") == 0)
		return verbs_export(w);
	if (strcmp(verb, "import") == 0)
		return verbs_import(w);
	return warrenctl_usage_error("subcommands", "action '%s' not understood", verb);
}

static void verbs_usage_line(const char *verb, const struct verbs_object *obj)
{
	bool any_optional = false;

	printf("  %s%s%s", verb, verb[0] ? " " : "", obj->type);
	for (const struct verbs_param *p = obj->params; p->name; p++) {
		if (p->flags & VERBS_MANDATORY)
			printf(" %s=...", p->name);
		else if ((p->flags & VERBS_ALT) && p == obj->params + 1)
			printf(" password=... OR password_hash=...");
	}
	for (const struct verbs_param *p = obj->params; p->name; p++) {
		if (p->flags & (VERBS_MANDATORY | VERBS_ALT))
			continue;
		printf("%s%s=...", any_optional ? " " : " [", p->name);
		any_optional = true;
	}
	puts(any_optional ? "]" : "");
}

bool warrenctl_verbs_usage(const char *verb)
{
	const struct verbs_object *table = NULL;

	if (strcmp(verb, "declare") == 0)
		table = verbs_declarable;
	else if (strcmp(verb, "delete") == 0)
		table = verbs_deletable;
	else if (strcmp(verb, "close") == 0)
		table = verbs_closable;
	else if (strcmp(verb, "purge") == 0)
		table = verbs_purgable;
	if (table) {
		for (; table->type; table++)
			verbs_usage_line(verb, table);
		return true;
	}
	if (strcmp(verb, "stream") == 0) {
		verbs_usage_line("stream", &verbs_stream_read);
		return true;
	}
	if (strcmp(verb, "publish") == 0 || strcmp(verb, "get") == 0) {
		verbs_usage_line("", strcmp(verb, "get") == 0 ? &verbs_get : &verbs_publish);
		return true;
	}
	if (strcmp(verb, "list") == 0) {
		for (const struct verbs_listable *l = verbs_lists; l->type; l++)
			printf("  list %s [<column>...]\n", l->type);
		return true;
	}
	return false;
}
