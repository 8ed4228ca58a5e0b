/* broker/shovel/shovel_config.c: reading and validating a shovel's definition
 * (shovel_config.h). The checks run in rabbit_shovel_parameters:validate/5's order: the
 * source's and destination's either/or rules, then every known key through its check, in the
 * reverse order of RabbitMQ's constraint list (its fold prepends), after an "Unrecognised terms"
 * line for keys it does not know. Values in the texts are printed as Erlang's ~p prints the
 * decoded JSON: <<"text">>, 5, true, [1,2], #{<<"k">> => 1}. */
#include "broker/shovel/shovel_config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/admin/admin.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/shovel/shovel_uri.h"

/* ---- Erlang's ~p of decoded JSON ---- */

struct term {
	char *p;
	size_t len, cap;
};

static void term_put(struct term *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->cap ? t->cap * 2 : 128) + n;
		char *p = realloc(t->p, cap);
		if (!p)
			return;
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void term_puts(struct term *t, const char *s)
{
	term_put(t, s, strlen(s));
}

static void term_binary(struct term *t, const char *s, size_t n)
{
	term_puts(t, "<<\"");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			term_put(t, "\\", 1);
		term_put(t, s + i, 1);
	}
	term_puts(t, "\">>");
}

static int term_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void term_json(struct term *t, json_t *v)
{
	char num[64];
	size_t i;
	json_t *it;
	switch (json_typeof(v)) {
	case JSON_STRING:
		term_binary(t, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
		term_puts(t, num);
		return;
	case JSON_REAL:
		snprintf(num, sizeof num, "%.15g", json_real_value(v));
		if (!strpbrk(num, ".e"))
			strcat(num, ".0");
		term_puts(t, num);
		return;
	case JSON_TRUE:
		term_puts(t, "true");
		return;
	case JSON_FALSE:
		term_puts(t, "false");
		return;
	case JSON_NULL:
		term_puts(t, "null");
		return;
	case JSON_ARRAY:
		term_puts(t, "[");
		json_array_foreach(v, i, it)
		{
			if (i)
				term_puts(t, ",");
			term_json(t, it);
		}
		term_puts(t, "]");
		return;
	case JSON_OBJECT: {
		/* a map, printed in key order as Erlang orders binaries */
		size_t n = json_object_size(v), k = 0;
		const char **keys = calloc(n ? n : 1, sizeof *keys);
		const char *key;
		if (!keys)
			return;
		json_object_foreach(v, key, it)
			keys[k++] = key;
		qsort(keys, n, sizeof *keys, term_key_cmp);
		term_puts(t, "#{");
		for (k = 0; k < n; k++) {
			if (k)
				term_puts(t, ",");
			term_binary(t, keys[k], strlen(keys[k]));
			term_puts(t, " => ");
			term_json(t, json_object_get(v, keys[k]));
		}
		term_puts(t, "}");
		free(keys);
		return;
	}
	}
}

/* ---- the error list ---- */

struct errors {
	struct term lines; /* joined by '\n' */
	size_t count;
};

static void errors_add(struct errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errors_add(struct errors *e, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (e->count++)
		term_puts(&e->lines, "\n");
	term_puts(&e->lines, line);
}

/* "<key> should be <what>, actually was <~p of v>" */
static void errors_type(struct errors *e, const char *key, const char *what, json_t *v)
{
	struct term t = { 0 };
	term_json(&t, v);
	errors_add(e, "%s should be %s, actually was %s", key, what, t.p ? t.p : "");
	free(t.p);
}

/* ---- checks, one per key kind ---- */

typedef void (*check_fn)(struct errors *e, const char *key, json_t *v, void *ctx);

struct check_ctx {
	struct broker *b;
	const struct user *user;
};

static void check_number(struct errors *e, const char *key, json_t *v, void *ctx)
{
	(void)ctx;
	if (!json_is_number(v))
		errors_type(e, key, "a number", v);
}

static void check_prefetch(struct errors *e, const char *key, json_t *v, void *ctx)
{
	(void)ctx;
	if (!json_is_number(v))
		errors_type(e, key, "a number", v);
	else if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		 json_integer_value(v) > 65535)
		/* RabbitMQ takes any number and fails later; basic.qos carries a short */
		errors_type(e, key, "an integer between 0 and 65535", v);
}

static void check_binary(struct errors *e, const char *key, json_t *v, void *ctx)
{
	(void)ctx;
	if (!json_is_string(v))
		errors_type(e, key, "binary", v);
}

static void check_queue_name(struct errors *e, const char *key, json_t *v, void *ctx)
{
	(void)ctx;
	if (!json_is_string(v))
		errors_type(e, key, "binary", v);
	else if (json_string_length(v) > 255)
		errors_add(e, "%s should be less than 255 bytes, actually was %zu", key,
			   json_string_length(v));
}

static void check_boolean(struct errors *e, const char *key, json_t *v, void *ctx)
{
	(void)ctx;
	if (!json_is_boolean(v))
		errors_type(e, key, "boolean", v);
}

static void check_enum(struct errors *e, const char *key, json_t *v, const char *const *allowed)
{
	for (size_t i = 0; allowed[i]; i++)
		if (json_is_string(v) && strcmp(json_string_value(v), allowed[i]) == 0)
			return;
	struct term t = { 0 };
	term_puts(&t, "[");
	for (size_t i = 0; allowed[i]; i++) {
		if (i)
			term_puts(&t, ",");
		term_binary(&t, allowed[i], strlen(allowed[i]));
	}
	term_puts(&t, "]");
	struct term val = { 0 };
	term_json(&val, v);
	errors_add(e, "%s should be one of %s, actually was %s", key, t.p ? t.p : "[]",
		   val.p ? val.p : "");
	free(t.p);
	free(val.p);
}

static void check_ack_mode(struct errors *e, const char *key, json_t *v, void *ctx)
{
	static const char *const modes[] = { "no-ack", "on-publish", "on-confirm", NULL };
	(void)ctx;
	check_enum(e, key, v, modes);
}

static void check_protocol(struct errors *e, const char *key, json_t *v, void *ctx)
{
	static const char *const protocols[] = { "amqp10", "amqp091", NULL };
	(void)ctx;
	check_enum(e, key, v, protocols);
}

static void check_delete_after(struct errors *e, const char *key, json_t *v, void *ctx)
{
	(void)ctx;
	if (json_is_string(v) && (strcmp(json_string_value(v), "never") == 0 ||
				  strcmp(json_string_value(v), "queue-length") == 0))
		return;
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return;
	struct term t = { 0 };
	term_json(&t, v);
	errors_add(e, "%s should be a number greater than or equal to 0, \"never\" or "
		      "\"queue-length\", actually was %s",
		   key, t.p ? t.p : "");
	free(t.p);
}

static void check_one_uri(struct errors *e, const char *key, json_t *v, struct check_ctx *c)
{
	struct shovel_uri u;
	char why[1024];
	if (!json_is_string(v)) {
		errors_type(e, key, "list", v);
		return;
	}
	const char *text = json_string_value(v);
	if (shovel_uri_parse(text, &u, why, sizeof why) != 0) {
		errors_add(e, "\"%s\" not a valid URI: %s", text, why);
		return;
	}
	/* A direct URI: the user setting the shovel must be able to reach its vhost. */
	if (u.local && c->user &&
	    (!admin_vhost_find(c->b, u.vhost) || !auth_permission_find(c->user, u.vhost)))
		errors_add(e, "user \"%s\" may not connect to vhost \"%s\"", c->user->name, u.vhost);
	shovel_uri_free(&u);
}

static void check_uri(struct errors *e, const char *key, json_t *v, void *ctx)
{
	size_t i;
	json_t *it;
	if (!json_is_array(v)) {
		check_one_uri(e, key, v, ctx);
		return;
	}
	if (json_array_size(v) == 0) {
		/* RabbitMQ accepts it and the shovel can never connect */
		errors_add(e, "%s should be a URI or a non-empty list of URIs, actually was []", key);
		return;
	}
	json_array_foreach(v, i, it)
	{
		size_t before = e->count;
		check_one_uri(e, key, it, ctx);
		if (e->count != before)
			return; /* the first bad one, as RabbitMQ reports */
	}
}

static void check_object(struct errors *e, const char *key, json_t *v, void *ctx)
{
	(void)ctx;
	if (!json_is_object(v))
		errors_type(e, key, "a JSON object", v);
}

static void check_properties(struct errors *e, const char *key, json_t *v, void *ctx)
{
	(void)ctx;
	if (!json_is_object(v)) {
		errors_type(e, key, "a JSON object", v);
		return;
	}
	const char *k;
	json_t *it;
	json_object_foreach(v, k, it)
	{
		struct amqp_basic_props scratch = { 0 };
		enum admin_prop_result rc = admin_prop_from_json(&scratch, k, it);
		bool known = rc != ADMIN_PROP_UNKNOWN;
		if (rc == ADMIN_PROP_NOT_STRING)
			errors_type(e, k, "binary", it);
		else if (rc == ADMIN_PROP_BAD_NUMBER)
			errors_type(e, k, "a number", it);
		if (!known) {
			struct term t = { 0 };
			term_puts(&t, "[{");
			term_binary(&t, k, strlen(k));
			term_puts(&t, ",");
			term_json(&t, it);
			term_puts(&t, "}]");
			errors_add(e, "Unrecognised terms %s in %s", t.p ? t.p : "", key);
			free(t.p);
		}
	}
}

/* rabbit_shovel_parameters' constraint list for amqp091 on both sides, in its order. */
static const struct {
	const char *key;
	check_fn check;
	bool mandatory;
} shovel_constraints[] = {
	{ "reconnect-delay", check_number, false },
	{ "ack-mode", check_ack_mode, false },
	{ "src-protocol", check_protocol, false },
	{ "dest-protocol", check_protocol, false },
	{ "src-uri", check_uri, true },
	{ "src-exchange", check_binary, false },
	{ "src-exchange-key", check_binary, false },
	{ "src-queue", check_binary, false },
	{ "src-queue-args", check_object, false },
	{ "src-consumer-args", check_object, false },
	{ "prefetch-count", check_prefetch, false },
	{ "src-prefetch-count", check_prefetch, false },
	{ "delete-after", check_delete_after, false },
	{ "src-delete-after", check_delete_after, false },
	{ "dest-uri", check_uri, true },
	{ "dest-exchange", check_binary, false },
	{ "dest-exchange-key", check_binary, false },
	{ "dest-queue", check_queue_name, false },
	{ "dest-queue-args", check_object, false },
	{ "add-forward-headers", check_boolean, false },
	{ "add-timestamp-header", check_boolean, false },
	{ "dest-add-forward-headers", check_boolean, false },
	{ "dest-add-timestamp-header", check_boolean, false },
	{ "publish-properties", check_properties, false },
	{ "dest-publish-properties", check_properties, false },
};
#define SHOVEL_CONSTRAINTS (sizeof shovel_constraints / sizeof shovel_constraints[0])

static bool shovel_key_known(const char *k)
{
	for (size_t i = 0; i < SHOVEL_CONSTRAINTS; i++)
		if (strcmp(shovel_constraints[i].key, k) == 0)
			return true;
	return false;
}

static void shovel_validate(struct broker *b, const char *name, json_t *def,
			    const struct user *user, struct errors *e)
{
	struct check_ctx ctx = { b, user };
	json_t *o = json_is_object(def) ? def : NULL;
	json_t *sx = o ? json_object_get(o, "src-exchange") : NULL;
	json_t *sq = o ? json_object_get(o, "src-queue") : NULL;
	json_t *dx = o ? json_object_get(o, "dest-exchange") : NULL;
	json_t *dq = o ? json_object_get(o, "dest-queue") : NULL;
	json_t *del = o ? json_object_get(o, "src-delete-after") : NULL;
	json_t *ack = o ? json_object_get(o, "ack-mode") : NULL;

	if (!del && o)
		del = json_object_get(o, "delete-after");
	/* validate_amqp091_src, validate_amqp091_dest */
	if (!sx && !sq)
		errors_add(e, "Must specify 'src-exchange' or 'src-queue'");
	else if (sx && sq)
		errors_add(e, "Cannot specify 'src-exchange' and 'src-queue'");
	if (json_is_integer(del) && json_is_string(ack) &&
	    strcmp(json_string_value(ack), "no-ack") == 0)
		errors_add(e, "Cannot specify 'no-ack' and numerical 'delete-after'");
	if (dx && dq)
		errors_add(e, "Cannot specify 'dest-exchange' and 'dest-queue'");
	/* the value is not a JSON object: all of it is unrecognised */
	if (!o) {
		struct term t = { 0 };
		term_json(&t, def);
		errors_add(e, "Unrecognised terms %s in %s", t.p ? t.p : "", name);
		free(t.p);
	} else {
		/* Unrecognised terms [{<<"foo">>,1}] in name: keys sorted, as Erlang lists a map */
		size_t n = json_object_size(o), k = 0, unknown = 0;
		const char **keys = calloc(n ? n : 1, sizeof *keys);
		const char *key;
		json_t *it;
		if (keys) {
			json_object_foreach(o, key, it)
			{
				if (!shovel_key_known(key))
					keys[k++] = key;
			}
			unknown = k;
			qsort(keys, unknown, sizeof *keys, term_key_cmp);
			if (unknown) {
				struct term t = { 0 };
				term_puts(&t, "[");
				for (k = 0; k < unknown; k++) {
					if (k)
						term_puts(&t, ",");
					term_puts(&t, "{");
					term_binary(&t, keys[k], strlen(keys[k]));
					term_puts(&t, ",");
					term_json(&t, json_object_get(o, keys[k]));
					term_puts(&t, "}");
				}
				term_puts(&t, "]");
				errors_add(e, "Unrecognised terms %s in %s", t.p ? t.p : "", name);
				free(t.p);
			}
			free(keys);
		}
	}
	/* each key's check, last constraint first */
	for (size_t i = SHOVEL_CONSTRAINTS; i-- > 0;) {
		json_t *v = o ? json_object_get(o, shovel_constraints[i].key) : NULL;
		if (v)
			shovel_constraints[i].check(e, shovel_constraints[i].key, v, &ctx);
		else if (shovel_constraints[i].mandatory)
			errors_add(e, "Key \"%s\" not found in %s", shovel_constraints[i].key, name);
	}
	/* Warren speaks AMQP 0-9-1 only */
	static const char *const sides[] = { "src-protocol", "dest-protocol" };
	for (size_t i = 0; i < 2 && o && e->count == 0; i++) {
		json_t *p = json_object_get(o, sides[i]);
		if (json_is_string(p) && strcmp(json_string_value(p), "amqp10") == 0)
			errors_add(e, "%s amqp10 is not supported: Warren's shovels speak amqp091",
				   sides[i]);
	}
}

/* ---- reading a valid definition ---- */

static char *config_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static int config_uris(json_t *v, char ***out, size_t *count)
{
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	*out = calloc(n, sizeof **out);
	if (!*out)
		return -1;
	*count = n;
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_is_array(v) ? json_array_get(v, i) : v;
		(*out)[i] = strdup(json_string_value(it));
		if (!(*out)[i])
			return -1;
	}
	return 0;
}

static bool config_bool(json_t *o, const char *key, const char *legacy)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		v = json_object_get(o, legacy);
	return json_is_true(v);
}

void shovel_config_free(struct shovel_config *c)
{
	for (size_t i = 0; c->src_uris && i < c->src_uri_count; i++)
		free(c->src_uris[i]);
	for (size_t i = 0; c->dest_uris && i < c->dest_uri_count; i++)
		free(c->dest_uris[i]);
	free(c->src_uris);
	free(c->dest_uris);
	free(c->src_queue);
	free(c->src_exchange);
	free(c->src_exchange_key);
	free(c->dest_queue);
	free(c->dest_exchange);
	free(c->dest_exchange_key);
	amqp_buf_free(&c->src_queue_args);
	amqp_buf_free(&c->dest_queue_args);
	amqp_buf_free(&c->consumer_args);
	json_decref(c->publish_properties);
	memset(c, 0, sizeof *c);
}

static int config_read(json_t *o, struct shovel_config *c)
{
	char err[256];
	memset(c, 0, sizeof *c);
	amqp_buf_init(&c->src_queue_args);
	amqp_buf_init(&c->dest_queue_args);
	amqp_buf_init(&c->consumer_args);
	if (config_uris(json_object_get(o, "src-uri"), &c->src_uris, &c->src_uri_count) != 0 ||
	    config_uris(json_object_get(o, "dest-uri"), &c->dest_uris, &c->dest_uri_count) != 0)
		return -1;
	c->src_queue = config_str(o, "src-queue");
	c->src_exchange = config_str(o, "src-exchange");
	c->src_exchange_key = config_str(o, "src-exchange-key");
	c->dest_queue = config_str(o, "dest-queue");
	c->dest_exchange = config_str(o, "dest-exchange");
	c->dest_exchange_key = config_str(o, "dest-exchange-key");
	if (!c->src_exchange_key)
		c->src_exchange_key = strdup(""); /* RabbitMQ's default */
	json_t *qa = json_object_get(o, "src-queue-args"), *da = json_object_get(o, "dest-queue-args");
	json_t *ca = json_object_get(o, "src-consumer-args");
	if ((qa && admin_table_from_json(qa, &c->src_queue_args, err, sizeof err) != 0) ||
	    (da && admin_table_from_json(da, &c->dest_queue_args, err, sizeof err) != 0) ||
	    (ca && admin_table_from_json(ca, &c->consumer_args, err, sizeof err) != 0))
		return -1;
	json_t *ack = json_object_get(o, "ack-mode");
	const char *am = json_is_string(ack) ? json_string_value(ack) : "on-confirm";
	c->ack_mode = strcmp(am, "no-ack") == 0	    ? SHOVEL_NO_ACK :
		      strcmp(am, "on-publish") == 0 ? SHOVEL_ON_PUBLISH :
						      SHOVEL_ON_CONFIRM;
	json_t *pf = json_object_get(o, "src-prefetch-count");
	if (!pf)
		pf = json_object_get(o, "prefetch-count");
	c->prefetch = json_is_integer(pf) ? (uint16_t)json_integer_value(pf) : 1000;
	json_t *del = json_object_get(o, "src-delete-after");
	if (!del)
		del = json_object_get(o, "delete-after");
	if (json_is_integer(del)) {
		c->delete_after = SHOVEL_DELETE_COUNT;
		c->delete_count = (uint64_t)json_integer_value(del);
	} else if (json_is_string(del) && strcmp(json_string_value(del), "queue-length") == 0) {
		c->delete_after = SHOVEL_DELETE_QUEUE_LENGTH;
	}
	c->add_forward_headers = config_bool(o, "dest-add-forward-headers", "add-forward-headers");
	c->add_timestamp_header = config_bool(o, "dest-add-timestamp-header",
					      "add-timestamp-header");
	json_t *rd = json_object_get(o, "reconnect-delay");
	c->reconnect_delay = json_is_number(rd) ? json_number_value(rd) : 5;
	json_t *pp = json_object_get(o, "dest-publish-properties");
	if (!pp)
		pp = json_object_get(o, "publish-properties");
	if (pp && json_object_size(pp))
		c->publish_properties = json_incref(pp);
	if (!c->src_exchange_key || c->src_queue_args.oom || c->dest_queue_args.oom || c->consumer_args.oom)
		return -1;
	return 0;
}

int shovel_config_parse(struct broker *b, const char *vhost, const char *name, json_t *def,
			const struct user *user, struct shovel_config *out, char *err,
			size_t errlen)
{
	struct errors e = { { 0 }, 0 };
	(void)vhost;
	shovel_validate(b, name, def, user, &e);
	if (e.count) {
		snprintf(err, errlen, "%s", e.lines.p ? e.lines.p : "invalid shovel");
		free(e.lines.p);
		return -1;
	}
	free(e.lines.p);
	if (out && config_read(def, out) != 0) {
		shovel_config_free(out);
		snprintf(err, errlen, "out of memory reading the shovel's definition");
		return -1;
	}
	return 0;
}
