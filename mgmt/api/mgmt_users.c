/* mgmt/api/mgmt_users.c: /api/vhosts, /api/users, /api/permissions, /api/topic-permissions and
 * /api/whoami. Users, vhosts and permissions need the administrator tag; everyone else sees
 * the vhosts they have permissions on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/event.h"
#include "broker/admin/admin.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/queue/queue.h"
#include "broker/auth/topic_perm.h"
#include "broker/vhost/vhost.h"
#include "mgmt/api/mgmt_internal.h"

json_t *mgmt_user_tags_json(const char *tags);
static void mgmt_topic_perms_list(struct mgmt_req *r, const struct user *one, const char *vhost);

json_t *mgmt_user_tags_json(const char *tags)
{
	json_t *arr = json_array();
	char *copy = strdup(tags ? tags : "");
	for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
	     t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if (*t)
			json_array_append_new(arr, json_string(t));
	}
	free(copy);
	return arr;
}

void mgmt_whoami_handle(struct mgmt_req *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(r->user->name));
	json_object_set_new(o, "tags", mgmt_user_tags_json(r->user->tags));
	mgmt_reply_json(r, 200, o);
}

/* ---- vhosts ---- */

static json_t *mgmt_vhost_tags_json(const struct vhost *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < v->tag_count; i++)
		json_array_append_new(a, json_string(v->tags[i]));
	return a;
}

static json_t *mgmt_vhost_json(struct mgmt_req *r, void *obj)
{
	struct vhost *v = obj;
	json_t *o = json_object();
	uint64_t ready = 0, unacked = 0, pub = 0, del = 0, ack = 0;
	size_t i;
	for (struct strmap_entry *e = strmap_first(&v->queues, &i); e;
	     e = strmap_next(&v->queues, e, &i)) {
		struct queue *q = e->value;
		ready += queue_ready_count(q);
		unacked += q->unacked_count;
		pub += q->stat_published;
		del += q->stat_delivered;
		ack += q->stat_acked;
	}
	(void)r;
	json_object_set_new(o, "name", json_string(v->name));
	json_object_set_new(o, "description", json_string(v->description));
	json_object_set_new(o, "tags", mgmt_vhost_tags_json(v));
	json_object_set_new(o, "default_queue_type",
			    json_string(v->default_queue_type ? v->default_queue_type :
								 "undefined"));
	json_t *md = json_object();
	if (v->default_queue_type)
		json_object_set_new(md, "default_queue_type", json_string(v->default_queue_type));
	json_object_set_new(md, "description", json_string(v->description));
	json_object_set_new(md, "tags", mgmt_vhost_tags_json(v));
	json_object_set_new(o, "metadata", md);
	json_object_set_new(o, "tracing", json_false());
	json_t *cs = json_object();
	json_object_set_new(cs, broker_node_name(r->b), json_string("running"));
	json_object_set_new(o, "cluster_state", cs);
	mgmt_stat_set(o, "messages", ready + unacked, 0);
	mgmt_stat_set(o, "messages_ready", ready, 0);
	mgmt_stat_set(o, "messages_unacknowledged", unacked, 0);
	json_t *ms = json_object();
	mgmt_stat_set(ms, "publish", pub, 0);
	mgmt_stat_set(ms, "deliver_get", del, 0);
	mgmt_stat_set(ms, "ack", ack, 0);
	json_object_set_new(o, "message_stats", ms);
	return o;
}

static bool mgmt_name_ok(struct mgmt_req *r, const char *name, size_t len)
{
	if (len == 0 || len > 255 || strlen(name) != len) {
		mgmt_reply_bad(r, "invalid name");
		return false;
	}
	json_t *s = json_stringn(name, len);
	if (!s) {
		mgmt_reply_bad(r, "name is not valid UTF-8");
		return false;
	}
	json_decref(s);
	return true;
}

static json_t *mgmt_permission_json(const char *user, const char *vhost,
				    const struct permission *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "user", json_string(user));
	json_object_set_new(o, "vhost", json_string(vhost));
	json_object_set_new(o, "configure", json_string(p->configure));
	json_object_set_new(o, "write", json_string(p->write));
	json_object_set_new(o, "read", json_string(p->read));
	return o;
}

void mgmt_vhosts_handle(struct mgmt_req *r)
{
	size_t i;
	if (r->nseg == 2) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		struct mgmt_items items = { 0 };
		for (struct strmap_entry *e = strmap_first(&r->b->vhosts, &i); e;
		     e = strmap_next(&r->b->vhosts, e, &i)) {
			struct vhost *v = e->value;
			if (mgmt_can_see_vhost(r, v->name))
				mgmt_items_add(&items, "", v->name, strlen(v->name), v);
		}
		{ mgmt_list_reply(r, &items, mgmt_vhost_json); return; }
	}
	const char *name = r->seg[2];
	if (r->nseg == 4 && strcmp(r->seg[3], "topic-permissions") == 0) {
		struct vhost *v = mgmt_vhost_arg(r, 2);
		if (v && mgmt_require_admin(r))
			mgmt_topic_perms_list(r, NULL, v->name);
		return;
	}
	if (r->nseg == 4 && strcmp(r->seg[3], "permissions") == 0) {
		struct vhost *v = mgmt_vhost_arg(r, 2);
		if (!v || !mgmt_require_admin(r))
			return;
		json_t *arr = json_array();
		for (struct strmap_entry *e = strmap_first(&r->b->users, &i); e;
		     e = strmap_next(&r->b->users, e, &i)) {
			struct user *u = e->value;
			const struct permission *p = auth_permission_find(u, v->name);
			if (!p)
				continue;
			json_array_append_new(arr, mgmt_permission_json(u->name, v->name, p));
		}
		{ mgmt_reply_json(r, 200, arr); return; }
	}
	if (r->nseg != 3)
		{ mgmt_reply_not_found(r); return; }
	switch (r->method) {
	case EVHTTP_REQ_GET: {
		struct vhost *v = mgmt_vhost_arg(r, 2);
		if (v)
			mgmt_object_reply(r, mgmt_vhost_json(r, v));
		return;
	}
	case EVHTTP_REQ_PUT: {
		if (!mgmt_require_admin(r) || !mgmt_name_ok(r, name, r->seg_len[2]))
			return;
		json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, true);
		struct admin_vhost_meta meta;
		char err[256] = "";
		if (!body)
			return;
		/* As RabbitMQ: a PUT replaces the description and tags (absent: none); the
		 * default queue type is set once. */
		int rc = admin_vhost_meta_parse(body, &meta, err, sizeof err);
		if (rc == ADMIN_OK)
			rc = admin_vhost_put(r->b, name, &meta);
		admin_vhost_meta_free(&meta);
		json_decref(body);
		if (rc == ADMIN_CREATED) {
			/* RabbitMQ gives the creating user full permissions on it. */
			auth_permission_set(r->user, name, ".*", ".*", ".*");
		}
		{ mgmt_reply_admin(r, rc, err, 204); return; }
	}
	case EVHTTP_REQ_DELETE:
		if (!mgmt_require_admin(r))
			return;
		{ mgmt_reply_admin(r, admin_vhost_delete(r->b, name), "", 204); return; }
	default:
		{ mgmt_reply_method_not_allowed(r); return; }
	}
}

/* ---- users ---- */

static json_t *mgmt_user_json(struct mgmt_req *r, void *obj)
{
	struct user *u = obj;
	json_t *o = json_object();
	char *hash = auth_user_hash_b64(u);
	(void)r;
	json_object_set_new(o, "name", json_string(u->name));
	json_object_set_new(o, "password_hash", json_string(hash ? hash : ""));
	json_object_set_new(o, "hashing_algorithm", json_string(auth_hash_name(u->algo)));
	json_object_set_new(o, "tags", mgmt_user_tags_json(u->tags));
	json_object_set_new(o, "limits", mgmt_user_limits_json(u));
	free(hash);
	return o;
}

/* tags: a comma-separated string or an array of strings -> "a,b". NULL with a 400 replied. */
static char *mgmt_tags_arg(struct mgmt_req *r, json_t *t)
{
	if (!t || json_is_null(t))
		return strdup("");
	if (json_is_string(t))
		return strdup(json_string_value(t));
	if (!json_is_array(t)) {
		mgmt_reply_bad(r, "'tags' must be a string or a list of strings");
		return NULL;
	}
	size_t i, len = 1;
	json_t *it;
	json_array_foreach(t, i, it)
	{
		if (!json_is_string(it)) {
			mgmt_reply_bad(r, "'tags' must be a string or a list of strings");
			return NULL;
		}
		len += json_string_length(it) + 1;
	}
	char *s = calloc(1, len);
	if (!s)
		return NULL;
	json_array_foreach(t, i, it)
	{
		if (i)
			strcat(s, ",");
		strcat(s, json_string_value(it));
	}
	return s;
}

static void mgmt_user_put(struct mgmt_req *r, const char *name)
{
	char err[256];
	char *tags = NULL;
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, false);
	if (!body)
		return;
	json_t *pw = json_object_get(body, "password"), *hash = json_object_get(body, "password_hash");
	json_t *algo = json_object_get(body, "hashing_algorithm");
	if ((pw && !json_is_string(pw)) || (hash && !json_is_string(hash)) ||
	    (algo && !json_is_string(algo))) {
		mgmt_reply_bad(r, "password, password_hash and hashing_algorithm must be strings");
		goto out;
	}
	if (!(tags = mgmt_tags_arg(r, json_object_get(body, "tags"))))
		goto out;
	struct user *existing = strmap_get(&r->b->users, name, strlen(name));
	if (!pw && !hash && !existing) {
		mgmt_reply_bad(r, "[{key_missing,password_or_password_hash}]");
		goto out;
	}
	/* Keep the permissions of a user being updated: set the password and tags in place. */
	struct user *u;
	if (existing && !hash) {
		if ((pw && auth_user_set_password(existing, json_string_value(pw)) != 0) ||
		    auth_user_set_tags(existing, tags) != 0) {
			mgmt_reply_error(r, 500, "internal_error", "out of memory");
			goto out;
		}
		u = existing;
	} else if (hash) {
		if (existing) {
			mgmt_reply_bad(r, "changing the password hash of an existing user is not "
					  "supported: delete and re-create it");
			goto out;
		}
		u = auth_user_add_hashed(r->b, name, json_string_value(hash),
					 algo ? json_string_value(algo) : NULL, tags, err,
					 sizeof err);
		if (!u) {
			mgmt_reply_bad(r, "%s", err);
			goto out;
		}
	} else {
		u = auth_user_add(r->b, name, json_string_value(pw), tags);
	}
	if (!u) {
		mgmt_reply_error(r, 500, "internal_error", "out of memory");
		goto out;
	}
	if (!existing)
		EVENT_EMIT(r->b, "user.created", EV_CSTR("name", name), EV_ACTOR());
	mgmt_reply_empty(r, existing ? 204 : 201);
out:
	free(tags);
	json_decref(body);
}

void mgmt_users_handle(struct mgmt_req *r)
{
	size_t i;
	if (!mgmt_require_admin(r))
		return;
	if (r->nseg == 2 || (r->nseg == 3 && strcmp(r->seg[2], "without-permissions") == 0)) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		bool without = r->nseg == 3;
		struct mgmt_items items = { 0 };
		for (struct strmap_entry *e = strmap_first(&r->b->users, &i); e;
		     e = strmap_next(&r->b->users, e, &i)) {
			struct user *u = e->value;
			if (!without || u->permissions.count == 0)
				mgmt_items_add(&items, "", u->name, strlen(u->name), u);
		}
		{ mgmt_list_reply(r, &items, mgmt_user_json); return; }
	}
	const char *name = r->seg[2];
	struct user *u = strmap_get(&r->b->users, name, strlen(name));
	if (r->nseg == 4 && strcmp(r->seg[3], "topic-permissions") == 0) {
		if (!u)
			{ mgmt_reply_not_found(r); return; }
		{ mgmt_topic_perms_list(r, u, NULL); return; }
	}
	if (r->nseg == 4 && strcmp(r->seg[3], "permissions") == 0) {
		if (!u)
			{ mgmt_reply_not_found(r); return; }
		json_t *arr = json_array();
		for (struct strmap_entry *e = strmap_first(&u->permissions, &i); e;
		     e = strmap_next(&u->permissions, e, &i)) {
			const struct permission *p = e->value;
			json_array_append_new(arr, mgmt_permission_json(u->name, e->key, p));
		}
		{ mgmt_reply_json(r, 200, arr); return; }
	}
	if (r->nseg != 3)
		{ mgmt_reply_not_found(r); return; }
	switch (r->method) {
	case EVHTTP_REQ_GET:
		if (!u)
			{ mgmt_reply_not_found(r); return; }
		{ mgmt_object_reply(r, mgmt_user_json(r, u)); return; }
	case EVHTTP_REQ_PUT:
		if (!mgmt_name_ok(r, name, r->seg_len[2]))
			return;
		{ mgmt_user_put(r, name); return; }
	case EVHTTP_REQ_DELETE:
		{ mgmt_reply_admin(r, admin_user_delete(r->b, name), "", 204); return; }
	default:
		{ mgmt_reply_method_not_allowed(r); return; }
	}
}

/* ---- permissions ---- */

void mgmt_permissions_handle(struct mgmt_req *r)
{
	size_t i, j;
	if (!mgmt_require_admin(r))
		return;
	if (r->nseg == 2) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		json_t *arr = json_array();
		for (struct strmap_entry *e = strmap_first(&r->b->users, &i); e;
		     e = strmap_next(&r->b->users, e, &i)) {
			struct user *u = e->value;
			for (struct strmap_entry *pe = strmap_first(&u->permissions, &j); pe;
			     pe = strmap_next(&u->permissions, pe, &j))
				json_array_append_new(arr,
						      mgmt_permission_json(u->name, pe->key, pe->value));
		}
		{ mgmt_reply_json(r, 200, arr); return; }
	}
	if (r->nseg != 4)
		{ mgmt_reply_not_found(r); return; }
	struct vhost *v = admin_vhost_find(r->b, r->seg[2]);
	struct user *u = strmap_get(&r->b->users, r->seg[3], strlen(r->seg[3]));
	const struct permission *p = u && v ? auth_permission_find(u, v->name) : NULL;
	switch (r->method) {
	case EVHTTP_REQ_GET:
		if (!p)
			{ mgmt_reply_not_found(r); return; }
		{ mgmt_reply_json(r, 200, mgmt_permission_json(u->name, v->name, p)); return; }
	case EVHTTP_REQ_DELETE:
		if (!p)
			{ mgmt_reply_not_found(r); return; }
		auth_permission_clear(u, v->name);
		EVENT_EMIT(r->b, "permission.deleted", EV_CSTR("user", u->name),
			   EV_CSTR("vhost", v->name), EV_ACTOR());
		{ mgmt_reply_empty(r, 204); return; }
	case EVHTTP_REQ_PUT: {
		if (!v)
			{ mgmt_reply_error(r, 404, "not_found", "vhost_not_found"); return; }
		if (!u)
			{ mgmt_reply_error(r, 404, "not_found", "user_not_found"); return; }
		json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, false);
		if (!body)
			return;
		json_t *c = json_object_get(body, "configure"), *w = json_object_get(body, "write");
		json_t *rd = json_object_get(body, "read");
		if (!c || !w || !rd) {
			mgmt_reply_bad(r, "[%s%s%s]", !c ? "{key_missing,configure}" : "",
				       !w ? "{key_missing,write}" : "", !rd ? "{key_missing,read}" : "");
		} else if (!json_is_string(c) || !json_is_string(w) || !json_is_string(rd)) {
			mgmt_reply_bad(r, "configure, write and read must be strings");
		} else {
			bool existed = p != NULL;
			if (auth_permission_set(u, v->name, json_string_value(c), json_string_value(w),
						json_string_value(rd)) != 0)
				mgmt_reply_error(r, 500, "internal_error", "out of memory");
			else {
				EVENT_EMIT(r->b, "permission.created", EV_CSTR("user", u->name),
					   EV_CSTR("vhost", v->name),
					   EV_CSTR("configure", json_string_value(c)),
					   EV_CSTR("write", json_string_value(w)),
					   EV_CSTR("read", json_string_value(rd)), EV_ACTOR());
				mgmt_reply_empty(r, existed ? 204 : 201);
			}
		}
		json_decref(body);
		return;
	}
	default:
		{ mgmt_reply_method_not_allowed(r); return; }
	}
}

/* ---- topic permissions ---- */

/* Appends the topic permissions of u (in vhost, or all when NULL) to arr. vhost_first: the
 * field order of /api/vhosts/{v}/topic-permissions. */
static void mgmt_topic_perms_add(json_t *arr, const struct user *u, const char *vhost,
				 bool vhost_first)
{
	size_t i;
	for (struct strmap_entry *e = strmap_first(&u->topic_permissions, &i); e;
	     e = strmap_next(&u->topic_permissions, e, &i)) {
		const struct topic_perm *p = e->value;
		if (vhost && strcmp(p->vhost, vhost) != 0)
			continue;
		json_t *o = json_object();
		if (vhost_first)
			json_object_set_new(o, "vhost", json_string(p->vhost));
		json_object_set_new(o, "user", json_string(u->name));
		if (!vhost_first)
			json_object_set_new(o, "vhost", json_string(p->vhost));
		json_object_set_new(o, "exchange", json_string(p->exchange));
		json_object_set_new(o, "write", json_string(p->write));
		json_object_set_new(o, "read", json_string(p->read));
		json_array_append_new(arr, o);
	}
}

/* GET /api/users/{u}/topic-permissions and /api/vhosts/{v}/topic-permissions (user or vhost
 * NULL: every one). */
static void mgmt_topic_perms_list(struct mgmt_req *r, const struct user *one, const char *vhost)
{
	size_t i;
	json_t *arr = json_array();
	for (struct strmap_entry *e = strmap_first(&r->b->users, &i); e;
	     e = strmap_next(&r->b->users, e, &i))
		if (!one || e->value == one)
			mgmt_topic_perms_add(arr, e->value, vhost, vhost && !one);
	mgmt_reply_json(r, 200, arr);
}

static void mgmt_topic_perms_put(struct mgmt_req *r, struct vhost *v, struct user *u)
{
	char err[256];
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, false);
	if (!body)
		return;
	json_t *x = json_object_get(body, "exchange"), *w = json_object_get(body, "write");
	json_t *rd = json_object_get(body, "read");
	if (!x || !w || !rd) {
		mgmt_reply_bad(r, "[%s%s%s]", !x ? "{key_missing,exchange}" : "",
			       !w ? "{key_missing,write}" : "", !rd ? "{key_missing,read}" : "");
	} else if (!json_is_string(x) || !json_is_string(w) || !json_is_string(rd)) {
		mgmt_reply_bad(r, "exchange, write and read must be strings");
	} else if (topic_perm_set(u, v->name, json_string_value(x), json_string_value(w),
				  json_string_value(rd), err, sizeof err) != 0) {
		mgmt_reply_bad(r, "%s", err);
	} else {
		/* RabbitMQ answers 201 even when it replaces one. */
		mgmt_reply_empty(r, 201);
	}
	json_decref(body);
}

void mgmt_topic_permissions_handle(struct mgmt_req *r)
{
	if (!mgmt_require_admin(r))
		return;
	if (r->nseg == 2) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		{ mgmt_topic_perms_list(r, NULL, NULL); return; }
	}
	if (r->nseg != 4)
		{ mgmt_reply_not_found(r); return; }
	struct vhost *v = admin_vhost_find(r->b, r->seg[2]);
	struct user *u = strmap_get(&r->b->users, r->seg[3], strlen(r->seg[3]));
	switch (r->method) {
	case EVHTTP_REQ_GET: {
		if (!v || !u)
			{ mgmt_reply_not_found(r); return; }
		json_t *arr = json_array();
		mgmt_topic_perms_add(arr, u, v->name, false);
		if (json_array_size(arr) == 0) {
			json_decref(arr);
			mgmt_reply_not_found(r);
			return;
		}
		{ mgmt_reply_json(r, 200, arr); return; }
	}
	case EVHTTP_REQ_DELETE:
		if (!v || !u || topic_perm_clear(u, v->name, NULL) == 0)
			{ mgmt_reply_not_found(r); return; }
		{ mgmt_reply_empty(r, 204); return; }
	case EVHTTP_REQ_PUT:
		if (!v)
			{ mgmt_reply_error(r, 404, "not_found", "vhost_not_found"); return; }
		if (!u)
			{ mgmt_reply_error(r, 404, "not_found", "user_not_found"); return; }
		{ mgmt_topic_perms_put(r, v, u); return; }
	default:
		{ mgmt_reply_method_not_allowed(r); return; }
	}
}
