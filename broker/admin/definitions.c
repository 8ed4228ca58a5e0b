/* broker/admin/definitions.c: import of RabbitMQ's definitions document (definitions_export.c
 * writes it). Import runs in two passes over a table of sections: the first checks every item
 * (types, required keys, hash formats, exchange types, queue arguments, equivalence with what
 * exists, binding endpoints), the second applies them through broker/admin/admin.c. Policies are
 * applied last; policy_set is their only validator, so a bad policy is the one case that can
 * leave earlier items applied. */
#include "broker/admin/definitions.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/admin/admin.h"
#include "broker/admin/parameters.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/core/log.h"
#include "broker/exchange/exchange.h"
#include "broker/auth/limits.h"
#include "broker/vhost/policy.h"
#include "broker/queue/queue.h"
#include "broker/queue/queue_args.h"
#include "broker/auth/topic_perm.h"
#include "broker/vhost/vhost.h"

static void definitions_import_limits(struct limit *l, json_t *value, bool vhost)
{
	const char *k;
	json_t *n;
	json_object_foreach(value, k, n)
	{
		int idx = vhost ? limits_vhost_index(k) : limits_user_index(k);
		if (idx >= 0 && json_is_integer(n))
			l[idx] = (struct limit){ .set = true, .value = json_integer_value(n) };
	}
}

/* ---- import ---- */

struct definitions_ctx {
	struct broker *b;
	json_t *doc;
	const char *vhost; /* per-vhost import */
	char *err;
	size_t errlen;
};

static json_t *definitions_section(struct definitions_ctx *c, const char *key, int *rc)
{
	json_t *s = json_object_get(c->doc, key);
	if (!s || json_is_null(s))
		return NULL;
	if (!json_is_array(s)) {
		snprintf(c->err, c->errlen, "'%s' must be a list", key);
		*rc = -1;
		return NULL;
	}
	return s;
}

static const char *definitions_get_str(struct definitions_ctx *c, json_t *o, const char *section,
				       const char *key, bool required)
{
	json_t *v = json_object_get(o, key);
	if (!v && !required)
		return "";
	if (!json_is_string(v)) {
		snprintf(c->err, c->errlen, "%s: '%s' %s", section, key,
			 v ? "must be a string" : "is missing");
		return NULL;
	}
	return json_string_value(v);
}

static const char *definitions_item_vhost(struct definitions_ctx *c, json_t *o,
					  const char *section)
{
	if (c->vhost)
		return c->vhost;
	return definitions_get_str(c, o, section, "vhost", true);
}

/* The vhost an item applies to during import (validated before): the import's own vhost, or
 * the item's "vhost". */
static struct vhost *definitions_target_vhost(struct definitions_ctx *c, json_t *o)
{
	const char *v = c->vhost ? c->vhost : json_string_value(json_object_get(o, "vhost"));
	return v ? admin_vhost_find(c->b, v) : NULL;
}

static bool definitions_vhost_known(struct definitions_ctx *c, const char *name)
{
	if (admin_vhost_find(c->b, name))
		return true;
	json_t *vhosts = json_object_get(c->doc, "vhosts");
	size_t i;
	json_t *v;
	if (c->vhost || !json_is_array(vhosts))
		return false;
	json_array_foreach(vhosts, i, v)
	{
		json_t *n = json_object_get(v, "name");
		if (json_is_string(n) && strcmp(json_string_value(n), name) == 0)
			return true;
	}
	return false;
}

static bool definitions_bool(json_t *o, const char *key, bool dflt)
{
	json_t *v = json_object_get(o, key);
	return v ? json_is_true(v) : dflt;
}

static int definitions_check_bool(struct definitions_ctx *c, json_t *o, const char *section,
				  const char *key)
{
	json_t *v = json_object_get(o, key);
	if (v && !json_is_boolean(v)) {
		snprintf(c->err, c->errlen, "%s: '%s' must be a boolean", section, key);
		return -1;
	}
	return 0;
}

/* Is there (or will there be) an exchange/queue with this name in vhost? */
static bool definitions_object_known(struct definitions_ctx *c, const char *vhost,
				     const char *name, bool queue)
{
	struct vhost *v = admin_vhost_find(c->b, vhost);
	struct amqp_str n = amqp_str_c(name);
	if (v && (queue ? vhost_queue_find(v, n) != NULL : vhost_exchange_find(v, n) != NULL))
		return true;
	if (!queue && strncmp(name, "amq.", 4) == 0)
		return true; /* predeclared in every new vhost */
	json_t *list = json_object_get(c->doc, queue ? "queues" : "exchanges");
	size_t i;
	json_t *o;
	json_array_foreach(list, i, o)
	{
		json_t *nm = json_object_get(o, "name"), *vh = json_object_get(o, "vhost");
		const char *ov = c->vhost ? c->vhost : json_string_value(vh);
		if (json_is_string(nm) && ov && strcmp(json_string_value(nm), name) == 0 &&
		    strcmp(ov, vhost) == 0)
			return true;
	}
	return false;
}

static int definitions_hash_check(struct definitions_ctx *c, const char *name, const char *hash,
				  const char *algo)
{
	size_t n = strlen(hash), want;
	unsigned char buf[128];
	if (n == 0)
		return 0;
	if (!algo || !*algo || strcmp(algo, "rabbit_password_hashing_sha256") == 0)
		want = 4 + 32;
	else if (strcmp(algo, "rabbit_password_hashing_sha512") == 0)
		want = 4 + 64;
	else if (strcmp(algo, "rabbit_password_hashing_md5") == 0)
		want = 4 + 16;
	else {
		snprintf(c->err, c->errlen, "users: unknown hashing_algorithm '%s' for user '%s'",
			 algo, name);
		return -1;
	}
	int len = n % 4 == 0 && n / 4 * 3 <= sizeof buf ?
			  EVP_DecodeBlock(buf, (const unsigned char *)hash, (int)n) :
			  -1;
	if (len > 0)
		len -= (hash[n - 1] == '=') + (n >= 2 && hash[n - 2] == '=');
	if (len < 0 || (size_t)len != want) {
		snprintf(c->err, c->errlen, "users: invalid password_hash for user '%s'", name);
		return -1;
	}
	return 0;
}

static char *definitions_tags_str(json_t *t)
{
	if (!t)
		return strdup("");
	if (json_is_string(t))
		return strdup(json_string_value(t));
	size_t i, len = 1;
	json_t *it;
	json_array_foreach(t, i, it)
	{
		len += (json_is_string(it) ? json_string_length(it) : 0) + 1;
	}
	char *s = calloc(1, len);
	if (!s)
		return NULL;
	json_array_foreach(t, i, it)
	{
		if (!json_is_string(it))
			continue;
		if (*s)
			strcat(s, ",");
		strcat(s, json_string_value(it));
	}
	return s;
}

/* Import runs in two passes over a table of sections (definitions_sections below): every item of
 * every section is validated before anything changes, so a bad document changes nothing; then
 * each section's items are applied, in an order where what an item needs exists already (vhosts
 * and users first, bindings after exchanges and queues, policies last). A validator returns 0,
 * or -1 with c->err set; an applier DEFS_OK, DEFS_FAILED (c->err set, the import goes on and
 * fails at the end, as RabbitMQ's does for a refused topic permission or policy) or DEFS_OOM
 * (it stops). */
enum definitions_result { DEFS_OK = 0, DEFS_FAILED = -1, DEFS_OOM = -2 };

static int definitions_validate_vhost(struct definitions_ctx *c, json_t *o)
{
	char err[512];

	const char *n = definitions_get_str(c, o, "vhosts", "name", true);
	if (!n)
		return -1;
	if (!*n || strlen(n) > 255) {
		snprintf(c->err, c->errlen, "vhosts: invalid name");
		return -1;
	}
	struct admin_vhost_meta meta;
	int mrc = admin_vhost_meta_parse(o, &meta, err, sizeof err);
	admin_vhost_meta_free(&meta);
	if (mrc != ADMIN_OK) {
		snprintf(c->err, c->errlen, "vhosts: vhost '%s': %s", n, err);
		return -1;
	}
	return 0;
}

static int definitions_validate_user(struct definitions_ctx *c, json_t *o)
{
	const char *n = definitions_get_str(c, o, "users", "name", true);
	if (!n)
		return -1;
	json_t *h = json_object_get(o, "password_hash"), *p = json_object_get(o, "password");
	json_t *a = json_object_get(o, "hashing_algorithm"), *t = json_object_get(o, "tags");
	if ((h && !json_is_string(h)) || (p && !json_is_string(p)) ||
	    (a && !json_is_string(a)) ||
	    (t && !json_is_string(t) && !json_is_array(t))) {
		snprintf(c->err, c->errlen, "users: bad field types for user '%s'", n);
		return -1;
	}
	if (h && definitions_hash_check(c, n, json_string_value(h),
					a ? json_string_value(a) : NULL) != 0)
		return -1;
	return 0;
}

static int definitions_validate_permission(struct definitions_ctx *c, json_t *o)
{
	const char *u = definitions_get_str(c, o, "permissions", "user", true);
	const char *v = u ? definitions_get_str(c, o, "permissions", "vhost", true) : NULL;
	if (!v || !definitions_get_str(c, o, "permissions", "configure", true) ||
	    !definitions_get_str(c, o, "permissions", "write", true) ||
	    !definitions_get_str(c, o, "permissions", "read", true))
		return -1;
	if (!definitions_vhost_known(c, v)) {
		snprintf(c->err, c->errlen, "permissions: no vhost '%s'", v);
		return -1;
	}
	return 0;
}

static int definitions_validate_topic_permission(struct definitions_ctx *c, json_t *o)
{
	const char *sec = "topic_permissions";
	const char *u = definitions_get_str(c, o, sec, "user", true);
	const char *v = u ? definitions_get_str(c, o, sec, "vhost", true) : NULL;
	if (!v || !definitions_get_str(c, o, sec, "exchange", true) ||
	    !definitions_get_str(c, o, sec, "write", true) ||
	    !definitions_get_str(c, o, sec, "read", true))
		return -1;
	if (!definitions_vhost_known(c, v)) {
		snprintf(c->err, c->errlen, "topic_permissions: no vhost '%s'", v);
		return -1;
	}
	return 0;
}

static int definitions_validate_exchange(struct definitions_ctx *c, json_t *o)
{
	const char *n = definitions_get_str(c, o, "exchanges", "name", true);
	const char *v = n ? definitions_item_vhost(c, o, "exchanges") : NULL;
	const char *t = v ? definitions_get_str(c, o, "exchanges", "type", true) : NULL;
	if (!t || definitions_check_bool(c, o, "exchanges", "durable") ||
	    definitions_check_bool(c, o, "exchanges", "auto_delete") ||
	    definitions_check_bool(c, o, "exchanges", "internal"))
		return -1;
	if (strcmp(t, "x-delayed-message") == 0) {
		json_t *dt = json_object_get(json_object_get(o, "arguments"),
					     "x-delayed-type");
		if (!json_is_string(dt) ||
		    !exchange_type_find(amqp_str_c(json_string_value(dt)))) {
			snprintf(c->err, c->errlen,
				 "exchanges: x-delayed-message exchange '%s' needs an "
				 "existing x-delayed-type",
				 n);
			return -1;
		}
	} else if (!exchange_type_find(amqp_str_c(t))) {
		snprintf(c->err, c->errlen, "exchanges: unknown exchange type '%s'", t);
		return -1;
	}
	if (!definitions_vhost_known(c, v)) {
		snprintf(c->err, c->errlen, "exchanges: no vhost '%s'", v);
		return -1;
	}
	json_t *a = json_object_get(o, "arguments");
	if (a && !json_is_object(a)) {
		snprintf(c->err, c->errlen, "exchanges: 'arguments' must be an object");
		return -1;
	}
	struct vhost *vh = admin_vhost_find(c->b, v);
	struct exchange *x = vh ? vhost_exchange_find(vh, amqp_str_c(n)) : NULL;
	if (x && strcmp(exchange_type_name(x), t) != 0) {
		snprintf(c->err, c->errlen,
			 "inequivalent arg 'type' for exchange '%s' in vhost '%s': "
			 "received '%s' but current is '%s'",
			 n, v, t, exchange_type_name(x));
		return -1;
	}
	return 0;
}

static int definitions_validate_queue(struct definitions_ctx *c, json_t *o)
{
	char err[512];

	const char *n = definitions_get_str(c, o, "queues", "name", true);
	const char *v = n ? definitions_item_vhost(c, o, "queues") : NULL;
	if (!v || definitions_check_bool(c, o, "queues", "durable") ||
	    definitions_check_bool(c, o, "queues", "auto_delete"))
		return -1;
	if (!definitions_vhost_known(c, v)) {
		snprintf(c->err, c->errlen, "queues: no vhost '%s'", v);
		return -1;
	}
	struct amqp_buf args;
	amqp_buf_init(&args);
	int r = admin_table_from_json(json_object_get(o, "arguments"), &args, err,
				      sizeof err);
	struct amqp_table t = { args.data, (uint32_t)args.len };
	if (r == 0) {
		struct vhost *vh = admin_vhost_find(c->b, v);
		struct queue *q = vh ? vhost_queue_find(vh, amqp_str_c(n)) : NULL;
		r = q ? queue_args_equivalent(q->args, t, amqp_str_c(n), v, err,
					      sizeof err) :
			queue_args_validate(t, amqp_str_c(n), v, err, sizeof err);
	}
	amqp_buf_free(&args);
	if (r != 0) {
		snprintf(c->err, c->errlen, "queues: %s", err);
		return -1;
	}
	return 0;
}

static int definitions_validate_binding(struct definitions_ctx *c, json_t *o)
{
	const char *src = definitions_get_str(c, o, "bindings", "source", true);
	const char *v = src ? definitions_item_vhost(c, o, "bindings") : NULL;
	const char *dst = v ? definitions_get_str(c, o, "bindings", "destination", true) :
			      NULL;
	const char *dt = dst ? definitions_get_str(c, o, "bindings", "destination_type",
						   true) :
			       NULL;
	if (!dt || !definitions_get_str(c, o, "bindings", "routing_key", false))
		return -1;
	bool q = strcmp(dt, "queue") == 0;
	if (!q && strcmp(dt, "exchange") != 0) {
		snprintf(c->err, c->errlen, "bindings: bad destination_type '%s'", dt);
		return -1;
	}
	if (!definitions_object_known(c, v, src, false) ||
	    !definitions_object_known(c, v, dst, q)) {
		snprintf(c->err, c->errlen,
			 "bindings: no source or destination for %s -> %s in vhost "
			 "'%s'",
			 src, dst, v);
		return -1;
	}
	return 0;
}

static int definitions_validate_policy(struct definitions_ctx *c, json_t *o)
{
	const char *n = definitions_get_str(c, o, "policies", "name", true);
	const char *v = n ? definitions_item_vhost(c, o, "policies") : NULL;
	if (!v || !definitions_get_str(c, o, "policies", "pattern", true))
		return -1;
	if (!json_is_object(json_object_get(o, "definition"))) {
		snprintf(c->err, c->errlen, "policies: 'definition' must be an object");
		return -1;
	}
	if (!definitions_vhost_known(c, v)) {
		snprintf(c->err, c->errlen, "policies: no vhost '%s'", v);
		return -1;
	}
	return 0;
}

static int definitions_apply_vhost(struct definitions_ctx *c, json_t *o)
{
	char err[512];

	struct admin_vhost_meta meta;
	int vrc = admin_vhost_meta_parse(o, &meta, err, sizeof err);
	const char *name = json_string_value(json_object_get(o, "name"));
	if (vrc == ADMIN_OK)
		vrc = admin_vhost_put(c->b, name, &meta);
	admin_vhost_meta_free(&meta);
	if (vrc < 0)
		return DEFS_OOM;
	return DEFS_OK;
}

static int definitions_apply_user(struct definitions_ctx *c, json_t *o)
{
	char err[512];

	const char *n = json_string_value(json_object_get(o, "name"));
	json_t *h = json_object_get(o, "password_hash"), *p = json_object_get(o, "password");
	json_t *a = json_object_get(o, "hashing_algorithm");
	char *tags = definitions_tags_str(json_object_get(o, "tags"));
	struct user *old = strmap_get(&c->b->users, n, strlen(n));
	struct user *u;
	if (!tags)
		return DEFS_OOM;
	if (old && !h && !p) {
		u = auth_user_set_tags(old, tags) == 0 ? old : NULL;
	} else if (h || !p) {
		/* Keep the permissions an existing user already has. */
		struct strmap keep = { 0 }, keep_topic = { 0 };
		if (old) { /* its connections close: they hold the old record */
			keep = old->permissions;
			keep_topic = old->topic_permissions;
			strmap_init(&old->permissions);
			strmap_init(&old->topic_permissions);
			admin_user_delete(c->b, n);
		}
		u = auth_user_add_hashed(c->b, n, h ? json_string_value(h) : "",
					 a ? json_string_value(a) : NULL, tags, err,
					 sizeof err);
		if (u && keep.slots) {
			strmap_clear(&u->permissions);
			u->permissions = keep;
		}
		if (u && keep_topic.slots) {
			topic_perm_free_all(u);
			u->topic_permissions = keep_topic;
		} else if (!u && keep_topic.slots) {
			struct user tmp = { .topic_permissions = keep_topic };
			topic_perm_free_all(&tmp);
		}
	} else {
		u = auth_user_add(c->b, n, json_string_value(p), tags);
	}
	free(tags);
	if (!u)
		return DEFS_OOM;
	json_t *lim = json_object_get(o, "limits");
	if (json_is_object(lim))
		definitions_import_limits(u->limits, lim, false);
	return DEFS_OK;
}

static int definitions_apply_permission(struct definitions_ctx *c, json_t *o)
{
	const char *n = json_string_value(json_object_get(o, "user"));
	struct user *u = strmap_get(&c->b->users, n, strlen(n));
	if (u && auth_permission_set(u, json_string_value(json_object_get(o, "vhost")),
				     json_string_value(json_object_get(o, "configure")),
				     json_string_value(json_object_get(o, "write")),
				     json_string_value(json_object_get(o, "read"))) != 0)
		return DEFS_OOM;
	return DEFS_OK;
}

static int definitions_apply_topic_permission(struct definitions_ctx *c, json_t *o)
{
	char err[512];

	const char *n = json_string_value(json_object_get(o, "user"));
	struct user *u = strmap_get(&c->b->users, n, strlen(n));
	if (u && topic_perm_set(u, json_string_value(json_object_get(o, "vhost")),
				json_string_value(json_object_get(o, "exchange")),
				json_string_value(json_object_get(o, "write")),
				json_string_value(json_object_get(o, "read")), err,
				sizeof err) != 0) {
		snprintf(c->err, c->errlen, "topic_permissions: %s", err);
		return DEFS_FAILED;
	}
	return DEFS_OK;
}

static int definitions_apply_parameter(struct definitions_ctx *c, json_t *o)
{
	json_t *comp = json_object_get(o, "component"), *val = json_object_get(o, "value");
	if (!json_is_string(comp) || strcmp(json_string_value(comp), "vhost-limits") ||
	    !json_is_object(val))
		return DEFS_OK; /* other runtime parameters are not supported */
	struct vhost *vh = definitions_target_vhost(c, o);
	if (vh)
		definitions_import_limits(vh->limits, val, true);
	return DEFS_OK;
}

/* A runtime parameter of a component Warren has (a shovel) is validated as a PUT would validate
 * it; vhost-limits are the vhosts' own; other components are skipped when applied. */
static int definitions_validate_runtime_parameter(struct definitions_ctx *c, json_t *o)
{
	char err[2048];
	json_t *comp = json_object_get(o, "component");
	const struct parameter_component *pc =
		json_is_string(comp) ? parameters_component_find(c->b, json_string_value(comp)) :
				       NULL;
	if (!pc)
		return 0;
	const char *n = definitions_get_str(c, o, "parameters", "name", true);
	const char *v = n ? definitions_item_vhost(c, o, "parameters") : NULL;
	if (!v)
		return -1;
	if (!definitions_vhost_known(c, v)) {
		snprintf(c->err, c->errlen, "parameters: no vhost '%s'", v);
		return -1;
	}
	if (pc->validate &&
	    pc->validate(c->b, v, n, json_object_get(o, "value"), NULL, err, sizeof err) != 0) {
		snprintf(c->err, c->errlen, "parameters: %s '%s' in vhost '%s': %s", pc->name, n, v,
			 err);
		return -1;
	}
	return 0;
}

static int definitions_apply_runtime_parameter(struct definitions_ctx *c, json_t *o)
{
	char err[2048];
	json_t *comp = json_object_get(o, "component");
	if (!json_is_string(comp) || strcmp(json_string_value(comp), "vhost-limits") == 0)
		return DEFS_OK;
	if (!parameters_component_find(c->b, json_string_value(comp))) {
		log_warn(c->b->log, "definitions: runtime parameter component '%s' is not supported; "
				    "skipped",
			 json_string_value(comp));
		return DEFS_OK;
	}
	struct vhost *vh = definitions_target_vhost(c, o);
	int r = vh ? parameters_set(c->b, json_string_value(comp), vh->name,
				    json_string_value(json_object_get(o, "name")),
				    json_object_get(o, "value"), NULL, err, sizeof err) :
		     ADMIN_NOT_FOUND;
	if (r == ADMIN_NO_MEMORY)
		return DEFS_OOM;
	if (r < 0) {
		snprintf(c->err, c->errlen, "parameters: %s", err);
		return DEFS_FAILED;
	}
	return DEFS_OK;
}

static int definitions_apply_exchange(struct definitions_ctx *c, json_t *o)
{
	char err[512];

	struct vhost *vh = definitions_target_vhost(c, o);
	struct amqp_buf args;
	amqp_buf_init(&args);
	admin_table_from_json(json_object_get(o, "arguments"), &args, err, sizeof err);
	int r = admin_exchange_declare(
		vh, amqp_str_c(json_string_value(json_object_get(o, "name"))),
		amqp_str_c(json_string_value(json_object_get(o, "type"))),
		definitions_bool(o, "durable", true),
		definitions_bool(o, "auto_delete", false),
		definitions_bool(o, "internal", false),
		(struct amqp_table){ args.data, (uint32_t)args.len }, err, sizeof err);
	amqp_buf_free(&args);
	if (r == ADMIN_NO_MEMORY)
		return DEFS_OOM;
	/* amq.* names and inequivalent flags on existing ones are skipped, as
	 * RabbitMQ's import logs and skips them. */
	return DEFS_OK;
}

static int definitions_apply_queue(struct definitions_ctx *c, json_t *o)
{
	char err[512];

	struct vhost *vh = definitions_target_vhost(c, o);
	struct amqp_buf args;
	amqp_buf_init(&args);
	admin_table_from_json(json_object_get(o, "arguments"), &args, err, sizeof err);
	int r = admin_queue_declare(
		vh, amqp_str_c(json_string_value(json_object_get(o, "name"))),
		definitions_bool(o, "durable", true),
		definitions_bool(o, "auto_delete", false),
		(struct amqp_table){ args.data, (uint32_t)args.len }, err, sizeof err);
	amqp_buf_free(&args);
	if (r == ADMIN_NO_MEMORY)
		return DEFS_OOM;
	return DEFS_OK;
}

static int definitions_apply_binding(struct definitions_ctx *c, json_t *o)
{
	char err[512];

	struct vhost *vh = definitions_target_vhost(c, o);
	json_t *rk = json_object_get(o, "routing_key");
	struct amqp_buf args;
	amqp_buf_init(&args);
	admin_table_from_json(json_object_get(o, "arguments"), &args, err, sizeof err);
	int r = admin_bind(
		vh, amqp_str_c(json_string_value(json_object_get(o, "source"))),
		strcmp(json_string_value(json_object_get(o, "destination_type")),
		       "queue") == 0,
		amqp_str_c(json_string_value(json_object_get(o, "destination"))),
		amqp_str_c(json_is_string(rk) ? json_string_value(rk) : ""),
		(struct amqp_table){ args.data, (uint32_t)args.len }, err, sizeof err);
	amqp_buf_free(&args);
	if (r == ADMIN_NO_MEMORY)
		return DEFS_OOM;
	return DEFS_OK;
}

static int definitions_apply_policy(struct definitions_ctx *c, json_t *o)
{
	char err[512];

	struct vhost *vh = definitions_target_vhost(c, o);
	json_t *at = json_object_get(o, "apply-to"), *pr = json_object_get(o, "priority");
	char *def = json_dumps(json_object_get(o, "definition"), JSON_COMPACT);
	if (!def)
		return DEFS_OOM;
	int r = admin_policy_set(vh, json_string_value(json_object_get(o, "name")),
			   json_string_value(json_object_get(o, "pattern")),
			   json_is_string(at) ? json_string_value(at) : "all",
			   json_is_integer(pr) ? (int)json_integer_value(pr) : 0, def,
			   false, err, sizeof err);
	free(def);
	if (r != 0) {
		snprintf(c->err, c->errlen, "policies: %s", err);
		return DEFS_FAILED;
	}
	return DEFS_OK;
}

/* The sections of a definitions document, in the order they are validated and applied. */
static const struct definitions_section {
	const char *key;
	bool broker_wide; /* not part of a per-vhost import */
	int (*validate)(struct definitions_ctx *c, json_t *item); /* NULL: nothing to check */
	int (*apply)(struct definitions_ctx *c, json_t *item);
} definitions_sections[] = {
	{ "vhosts", true, definitions_validate_vhost, definitions_apply_vhost },
	{ "users", true, definitions_validate_user, definitions_apply_user },
	{ "permissions", true, definitions_validate_permission, definitions_apply_permission },
	{ "topic_permissions", true, definitions_validate_topic_permission,
	  definitions_apply_topic_permission },
	{ "parameters", false, NULL, definitions_apply_parameter },
	{ "exchanges", false, definitions_validate_exchange, definitions_apply_exchange },
	{ "queues", false, definitions_validate_queue, definitions_apply_queue },
	{ "bindings", false, definitions_validate_binding, definitions_apply_binding },
	{ "policies", false, definitions_validate_policy, definitions_apply_policy },
	/* shovels last: they start once the queues and exchanges they use exist */
	{ "parameters", false, definitions_validate_runtime_parameter,
	  definitions_apply_runtime_parameter },
};

#define DEFINITIONS_SECTIONS (sizeof definitions_sections / sizeof definitions_sections[0])

static int definitions_validate(struct definitions_ctx *c)
{
	size_t i;
	json_t *o;

	if (!json_is_object(c->doc)) {
		snprintf(c->err, c->errlen, "definitions must be a JSON object");
		return -1;
	}
	for (size_t k = 0; k < DEFINITIONS_SECTIONS; k++) {
		const struct definitions_section *sec = &definitions_sections[k];
		int rc = 0;
		if ((sec->broker_wide && c->vhost) || !sec->validate)
			continue;
		json_t *s = definitions_section(c, sec->key, &rc);
		if (rc)
			return rc;
		json_array_foreach(s, i, o)
		{
			if (sec->validate(c, o) != 0)
				return -1;
		}
	}
	return 0;
}

static int definitions_apply(struct definitions_ctx *c)
{
	size_t i;
	json_t *o;
	int rc = 0;

	for (size_t k = 0; k < DEFINITIONS_SECTIONS; k++) {
		const struct definitions_section *sec = &definitions_sections[k];
		if (sec->broker_wide && c->vhost)
			continue;
		json_array_foreach(json_object_get(c->doc, sec->key), i, o)
		{
			int r = sec->apply(c, o);
			if (r == DEFS_OOM) {
				snprintf(c->err, c->errlen, "out of memory importing definitions");
				return -1;
			}
			if (r == DEFS_FAILED)
				rc = -1;
		}
	}
	return rc;
}

int definitions_import(struct broker *b, json_t *doc, const char *vhost, char *err,
		       size_t errlen)
{
	struct definitions_ctx c = { b, doc, vhost, err, errlen };
	if (vhost && !admin_vhost_find(b, vhost)) {
		snprintf(err, errlen, "no vhost '%s'", vhost);
		return -1;
	}
	if (definitions_validate(&c) != 0)
		return -1;
	return definitions_apply(&c);
}
