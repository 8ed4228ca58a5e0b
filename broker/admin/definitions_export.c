/* broker/admin/definitions_export.c: the broker's state as RabbitMQ's definitions document (users,
 * vhosts with their metadata, permissions, topic permissions, vhost limits, policies, durable
 * queues, exchanges and bindings), whole or for one vhost: the management API's GET
 * /api/definitions, and the definitions file the store keeps. */
#include "broker/admin/definitions.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/admin/admin.h"
#include "broker/admin/parameters.h"
#include "broker/auth/auth.h"
#include "broker/auth/limits.h"
#include "broker/auth/topic_perm.h"
#include "broker/core/broker.h"
#include "broker/exchange/exchange.h"
#include "broker/queue/queue.h"
#include "broker/vhost/policy.h"
#include "broker/vhost/vhost.h"

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.1.0"
#endif

static json_t *definitions_tags(const char *tags)
{
	json_t *arr = json_array();
	char *copy = strdup(tags ? tags : "");
	for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
	     t = strtok_r(NULL, ",", &save))
		if (*t)
			json_array_append_new(arr, json_string(t));
	free(copy);
	return arr;
}

static json_t *definitions_str(struct amqp_str s)
{
	return admin_json_string(s.ptr, s.len);
}

/* {"max-connections": N, ...} of the limits that are set; NULL when none is and !always. */
static json_t *definitions_limits(const struct limit *l, int count, bool vhost, bool always)
{
	json_t *o = always ? json_object() : NULL;
	for (int i = 0; i < count; i++) {
		if (!l[i].set)
			continue;
		if (!o)
			o = json_object();
		json_object_set_new(o,
				    vhost ? limits_vhost_name((enum limits_vhost)i) :
					    limits_user_name((enum limits_user)i),
				    json_integer((json_int_t)l[i].value));
	}
	return o;
}

/* RabbitMQ 3.10 exports vhost limits as a runtime parameter of component "vhost-limits". */
static void definitions_export_vhost_limits(const struct vhost *v, bool with_vhost, json_t *params)
{
	json_t *value = definitions_limits(v->limits, LIMITS_VHOST_COUNT, true, false);
	if (!value)
		return;
	json_t *o = json_object();
	json_object_set_new(o, "value", value);
	if (with_vhost)
		json_object_set_new(o, "vhost", json_string(v->name));
	json_object_set_new(o, "component", json_string("vhost-limits"));
	json_object_set_new(o, "name", json_string("limits"));
	json_array_append_new(params, o);
}

/* Sets the limits named in a {"max-...": N} object; unknown names and non-integers are
 * skipped (validated before). */

static bool definitions_list_ready(const struct list *l)
{
	return l->next != NULL && !list_is_empty(l);
}

/* The durable bindings whose source is x (durable destinations only), in RabbitMQ's shape. */
static void definitions_export_bindings(struct exchange *x, bool with_vhost, json_t *bindings)
{
	struct list *pos;
	list_for_each(pos, &x->bindings)
	{
		struct binding *bd = list_entry(pos, struct binding, source_link);
		bool durable = bd->dest_q ? bd->dest_q->durable && !bd->dest_q->exclusive :
					    bd->dest_x->durable;
		if (!durable)
			continue;
		json_t *b = json_object();
		json_object_set_new(b, "source", definitions_str(x->name));
		if (with_vhost)
			json_object_set_new(b, "vhost", json_string(x->vhost->name));
		json_object_set_new(b, "destination",
				    definitions_str(bd->dest_q ? bd->dest_q->name : bd->dest_x->name));
		json_object_set_new(b, "destination_type", json_string(bd->dest_q ? "queue" : "exchange"));
		json_object_set_new(b, "routing_key", definitions_str(bd->key));
		json_object_set_new(b, "arguments", admin_table_to_json(bd->args));
		json_array_append_new(bindings, b);
	}
}

static void definitions_export_vhost(struct vhost *v, bool with_vhost, json_t *policies,
				     json_t *queues, json_t *exchanges, json_t *bindings)
{
	size_t i;
	struct list *pos;
	json_error_t jerr;
#define SET_VHOST(o)                                                             \
	do {                                                                     \
		if (with_vhost)                                                  \
			json_object_set_new((o), "vhost", json_string(v->name)); \
	} while (0)

	if (definitions_list_ready(&v->policies)) {
		list_for_each(pos, &v->policies)
		{
			struct policy *p = list_entry(pos, struct policy, link);
			json_t *o = json_object();
			SET_VHOST(o);
			json_object_set_new(o, "name", json_string(p->name));
			json_object_set_new(o, "pattern", json_string(p->pattern));
			json_object_set_new(o, "apply-to",
					    json_string(policy_apply_to_name(p->apply_to)));
			json_t *def = p->definition_json ?
					      json_loads(p->definition_json, 0, &jerr) :
					      NULL;
			json_object_set_new(o, "definition", def ? def : json_object());
			json_object_set_new(o, "priority", json_integer(p->priority));
			json_array_append_new(policies, o);
		}
	}
	for (struct strmap_entry *e = strmap_first(&v->queues, &i); e;
	     e = strmap_next(&v->queues, e, &i)) {
		struct queue *q = e->value;
		if (!q->durable || q->exclusive)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "name", definitions_str(q->name));
		SET_VHOST(o);
		json_object_set_new(o, "durable", json_true());
		json_object_set_new(o, "auto_delete", json_boolean(q->auto_delete));
		json_object_set_new(o, "arguments", admin_table_to_json(q->args));
		json_array_append_new(queues, o);
	}
	for (struct strmap_entry *e = strmap_first(&v->exchanges, &i); e;
	     e = strmap_next(&v->exchanges, e, &i)) {
		struct exchange *x = e->value;
		if (x->is_default || !x->durable ||
		    (x->name.len >= 4 && memcmp(x->name.ptr, "amq.", 4) == 0))
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "name", definitions_str(x->name));
		SET_VHOST(o);
		json_object_set_new(o, "type", json_string(exchange_type_name(x)));
		json_object_set_new(o, "durable", json_true());
		json_object_set_new(o, "auto_delete", json_boolean(x->auto_delete));
		json_object_set_new(o, "internal", json_boolean(x->internal));
		json_object_set_new(o, "arguments", admin_table_to_json(x->args));
		json_array_append_new(exchanges, o);
		definitions_export_bindings(x, with_vhost, bindings);
	}
	/* Bindings from the predeclared amq.* exchanges to durable destinations are also part
	 * of what an operator set up. */
	for (struct strmap_entry *e = strmap_first(&v->exchanges, &i); e;
	     e = strmap_next(&v->exchanges, e, &i)) {
		struct exchange *x = e->value;
		if (x->is_default || !(x->name.len >= 4 && memcmp(x->name.ptr, "amq.", 4) == 0))
			continue;
		definitions_export_bindings(x, with_vhost, bindings);
	}
#undef SET_VHOST
}

json_t *definitions_export(struct broker *b, const char *vhost)
{
	size_t i, j;
	json_t *doc = json_object();
	json_t *policies = json_array(), *queues = json_array(), *exchanges = json_array();
	json_t *bindings = json_array();

	json_object_set_new(doc, "rabbit_version", json_string("3.10.8"));
	if (vhost) {
		struct vhost *v = admin_vhost_find(b, vhost);
		if (!v) {
			json_decref(doc);
			json_decref(policies);
			json_decref(queues);
			json_decref(exchanges);
			json_decref(bindings);
			return NULL;
		}
		definitions_export_vhost(v, false, policies, queues, exchanges, bindings);
		json_t *vparams = json_array();
		definitions_export_vhost_limits(v, false, vparams);
		size_t first = json_array_size(vparams);
		parameters_list(b, NULL, v->name, vparams); /* shovels */
		for (size_t k = first; k < json_array_size(vparams); k++)
			json_object_del(json_array_get(vparams, k), "vhost");
		json_object_set_new(doc, "parameters", vparams);
		goto done;
	}
	json_object_set_new(doc, "rabbitmq_version", json_string("3.10.8"));
	json_object_set_new(doc, "product_name", json_string("Warren"));
	json_object_set_new(doc, "product_version", json_string(WARREN_VERSION));
	json_t *users = json_array(), *vhosts = json_array(), *perms = json_array();
	json_t *topic_perms = json_array(), *params = json_array();
	for (struct strmap_entry *e = strmap_first(&b->users, &i); e;
	     e = strmap_next(&b->users, e, &i)) {
		struct user *u = e->value;
		char *hash = auth_user_hash_b64(u);
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(u->name));
		json_object_set_new(o, "password_hash", json_string(hash ? hash : ""));
		json_object_set_new(o, "hashing_algorithm", json_string(auth_hash_name(u->algo)));
		json_object_set_new(o, "tags", definitions_tags(u->tags));
		json_object_set_new(o, "limits",
				    definitions_limits(u->limits, LIMITS_USER_COUNT, false, true));
		json_array_append_new(users, o);
		for (struct strmap_entry *pe = strmap_first(&u->topic_permissions, &j); pe;
		     pe = strmap_next(&u->topic_permissions, pe, &j)) {
			const struct topic_perm *p = pe->value;
			json_t *po = json_object();
			json_object_set_new(po, "user", json_string(u->name));
			json_object_set_new(po, "vhost", json_string(p->vhost));
			json_object_set_new(po, "exchange", json_string(p->exchange));
			json_object_set_new(po, "write", json_string(p->write));
			json_object_set_new(po, "read", json_string(p->read));
			json_array_append_new(topic_perms, po);
		}
		free(hash);
		for (struct strmap_entry *pe = strmap_first(&u->permissions, &j); pe;
		     pe = strmap_next(&u->permissions, pe, &j)) {
			const struct permission *p = pe->value;
			json_t *po = json_object();
			json_object_set_new(po, "user", json_string(u->name));
			json_object_set_new(po, "vhost", json_string(pe->key));
			json_object_set_new(po, "configure", json_string(p->configure));
			json_object_set_new(po, "write", json_string(p->write));
			json_object_set_new(po, "read", json_string(p->read));
			json_array_append_new(perms, po);
		}
	}
	for (struct strmap_entry *e = strmap_first(&b->vhosts, &i); e;
	     e = strmap_next(&b->vhosts, e, &i)) {
		struct vhost *v = e->value;
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(v->name));
		json_object_set_new(o, "limits", json_array());
		/* Metadata as later RabbitMQs export it (3.10 exports none, but imports these
		 * keys): what PUT /api/vhosts set survives export, import and restarts. */
		json_t *md = json_object(), *tags = json_array();
		for (size_t t = 0; t < v->tag_count; t++)
			json_array_append_new(tags, json_string(v->tags[t]));
		json_object_set_new(md, "description", json_string(v->description));
		json_object_set_new(md, "tags", tags);
		if (v->default_queue_type)
			json_object_set_new(md, "default_queue_type",
					    json_string(v->default_queue_type));
		json_object_set_new(o, "metadata", md);
		json_array_append_new(vhosts, o);
		definitions_export_vhost(v, true, policies, queues, exchanges, bindings);
		definitions_export_vhost_limits(v, true, params);
	}
	parameters_list(b, NULL, NULL, params); /* shovels: RabbitMQ's runtime parameters */
	json_object_set_new(doc, "users", users);
	json_object_set_new(doc, "vhosts", vhosts);
	json_object_set_new(doc, "permissions", perms);
	json_object_set_new(doc, "topic_permissions", topic_perms);
	json_object_set_new(doc, "parameters", params);
	json_object_set_new(doc, "global_parameters", json_array());
done:
	json_object_set_new(doc, "policies", policies);
	json_object_set_new(doc, "queues", queues);
	json_object_set_new(doc, "exchanges", exchanges);
	json_object_set_new(doc, "bindings", bindings);
	return doc;
}
