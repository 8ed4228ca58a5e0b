/* mgmt/api/mgmt_limits.c: /api/vhost-limits[/{vhost}[/{name}]] and /api/user-limits[/{user}[/{name}]],
 * shaped as RabbitMQ 3.10 shows them: [{"vhost": v, "value": {"max-queues": 1, ...}}]. Only
 * vhosts and users with at least one limit set are listed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/admin/admin.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/auth/limits.h"
#include "broker/vhost/vhost.h"
#include "mgmt/api/mgmt_internal.h"

/* {"max-connections": N, ...} of the limits that are set, or NULL when none is. */
static json_t *mgmt_limits_value(const struct limit *l, int count, const char *(*name)(int))
{
	json_t *o = NULL;
	for (int i = 0; i < count; i++) {
		if (!l[i].set)
			continue;
		if (!o)
			o = json_object();
		json_object_set_new(o, name(i), json_integer((json_int_t)l[i].value));
	}
	return o;
}

static const char *mgmt_vhost_limit_name(int i)
{
	return limits_vhost_name((enum limits_vhost)i);
}

static const char *mgmt_user_limit_name(int i)
{
	return limits_user_name((enum limits_user)i);
}

json_t *mgmt_user_limits_json(const struct user *u)
{
	json_t *o = mgmt_limits_value(u->limits, LIMITS_USER_COUNT, mgmt_user_limit_name);
	return o ? o : json_object();
}

static void mgmt_limits_add(json_t *arr, const char *key, const char *owner, json_t *value)
{
	if (!value)
		return;
	json_t *o = json_object();
	json_object_set_new(o, key, json_string(owner));
	json_object_set_new(o, "value", value);
	json_array_append_new(arr, o);
}

/* Erlang's rendering of a JSON value in RabbitMQ's validation texts. */
static void mgmt_limits_term(json_t *v, char *out, size_t cap)
{
	if (json_is_integer(v)) {
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
	} else if (json_is_string(v)) {
		snprintf(out, cap, "<<\"%s\">>", json_string_value(v));
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(out, cap, "%s", s ? s : "?");
		free(s);
	}
}

/* The body's "value" for limit `name`; false after a 400. vhost: RabbitMQ's vhost texts. */
static bool mgmt_limits_body(struct mgmt_req *r, const char *name, int idx, bool vhost,
			     int64_t *out)
{
	char term[128];
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, false);
	bool ok = false;
	if (!body)
		return false;
	json_t *v = json_object_get(body, "value");
	if (!v) {
		mgmt_reply_bad(r, "[{key_missing,value}]");
		goto out;
	}
	mgmt_limits_term(v, term, sizeof term);
	if (idx < 0) {
		if (vhost)
			mgmt_reply_bad(r, "Validation failed\n\nUnrecognised terms [{<<\"%s\">>,%s}] "
					  "in limits\n",
				       name, term);
		else
			mgmt_reply_bad(r, "Unrecognised terms [{<<\"%s\">>,%s}] in user-limits", name,
				       term);
		goto out;
	}
	if (!json_is_integer(v)) {
		if (vhost)
			mgmt_reply_bad(r, "Validation failed\n\n%s should be a number, actually was "
					  "%s\n",
				       name, term);
		else
			mgmt_reply_bad(r, "%s should be a number, actually was %s", name, term);
		goto out;
	}
	*out = json_integer_value(v);
	ok = true;
out:
	json_decref(body);
	return ok;
}

void mgmt_vhost_limits_handle(struct mgmt_req *r)
{
	size_t i;
	if (r->nseg <= 3) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		struct vhost *one = r->nseg == 3 ? mgmt_vhost_arg(r, 2) : NULL;
		if (r->nseg == 3 && !one)
			return;
		json_t *arr = json_array();
		for (struct strmap_entry *e = strmap_first(&r->b->vhosts, &i); e;
		     e = strmap_next(&r->b->vhosts, e, &i)) {
			struct vhost *v = e->value;
			if ((one && v != one) || !mgmt_can_see_vhost(r, v->name))
				continue;
			mgmt_limits_add(arr, "vhost", v->name,
					mgmt_limits_value(v->limits, LIMITS_VHOST_COUNT,
							  mgmt_vhost_limit_name));
		}
		mgmt_reply_json(r, 200, arr);
		return;
	}
	if (r->nseg != 4)
		{ mgmt_reply_not_found(r); return; }
	if (!mgmt_require_admin(r))
		return;
	struct vhost *v = admin_vhost_find(r->b, r->seg[2]);
	if (!v)
		{ mgmt_reply_error(r, 404, "not_found", "vhost_not_found"); return; }
	int idx = limits_vhost_index(r->seg[3]);
	int64_t value;
	switch (r->method) {
	case EVHTTP_REQ_PUT:
		if (!mgmt_limits_body(r, r->seg[3], idx, true, &value))
			return;
		v->limits[idx] = (struct limit){ .set = true, .value = value };
		mgmt_reply_empty(r, 204);
		return;
	case EVHTTP_REQ_DELETE:
		if (idx >= 0)
			v->limits[idx] = (struct limit){ 0 };
		mgmt_reply_empty(r, 204);
		return;
	default:
		mgmt_reply_method_not_allowed(r);
		return;
	}
}

void mgmt_user_limits_handle(struct mgmt_req *r)
{
	size_t i;
	if (!mgmt_require_admin(r))
		return;
	if (r->nseg <= 3) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		struct user *one = NULL;
		if (r->nseg == 3 && !(one = strmap_get(&r->b->users, r->seg[2], strlen(r->seg[2]))))
			{ mgmt_reply_not_found(r); return; }
		json_t *arr = json_array();
		for (struct strmap_entry *e = strmap_first(&r->b->users, &i); e;
		     e = strmap_next(&r->b->users, e, &i)) {
			struct user *u = e->value;
			if (one && u != one)
				continue;
			mgmt_limits_add(arr, "user", u->name,
					mgmt_limits_value(u->limits, LIMITS_USER_COUNT,
							  mgmt_user_limit_name));
		}
		mgmt_reply_json(r, 200, arr);
		return;
	}
	if (r->nseg != 4)
		{ mgmt_reply_not_found(r); return; }
	struct user *u = strmap_get(&r->b->users, r->seg[2], strlen(r->seg[2]));
	int idx = limits_user_index(r->seg[3]);
	int64_t value;
	switch (r->method) {
	case EVHTTP_REQ_PUT:
		if (!u) {
			/* RabbitMQ's reason here is a list: ["no_such_user", name]. */
			json_t *o = json_object(), *why = json_array();
			json_array_append_new(why, json_string("no_such_user"));
			json_array_append_new(why, json_string(r->seg[2]));
			json_object_set_new(o, "error", json_string("bad_request"));
			json_object_set_new(o, "reason", why);
			mgmt_reply_json(r, 400, o);
			return;
		}
		if (!mgmt_limits_body(r, r->seg[3], idx, false, &value))
			return;
		u->limits[idx] = (struct limit){ .set = true, .value = value };
		mgmt_reply_empty(r, 204);
		return;
	case EVHTTP_REQ_DELETE:
		if (u && idx >= 0)
			u->limits[idx] = (struct limit){ 0 };
		mgmt_reply_empty(r, 204);
		return;
	default:
		mgmt_reply_method_not_allowed(r);
		return;
	}
}
