/* mgmt/api/mgmt_policies.c: /api/policies and /api/operator-policies ({vhost}/{name}, GET, PUT,
 * DELETE) over broker/policy.h, and /api/definitions[/{vhost}] (GET export, POST import) over
 * broker/definitions.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/admin/admin.h"
#include "broker/core/broker.h"
#include "broker/admin/definitions.h"
#include "broker/vhost/policy.h"
#include "broker/vhost/vhost.h"
#include "mgmt/api/mgmt_internal.h"

static json_t *mgmt_policy_json(struct vhost *v, struct policy *p)
{
	json_error_t jerr;
	json_t *o = json_object();
	json_object_set_new(o, "vhost", json_string(v->name));
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "pattern", json_string(p->pattern));
	json_object_set_new(o, "apply-to", json_string(policy_apply_to_name(p->apply_to)));
	json_t *def = p->definition_json ? json_loads(p->definition_json, 0, &jerr) : NULL;
	json_object_set_new(o, "definition", def ? def : json_object());
	json_object_set_new(o, "priority", json_integer(p->priority));
	return o;
}

static void mgmt_policies_of(struct mgmt_req *r, struct vhost *v, bool op, json_t *arr)
{
	struct list *l = op ? &v->operator_policies : &v->policies, *pos;
	if (!l->next)
		return;
	list_for_each(pos, l)
	{
		json_array_append_new(arr, mgmt_policy_json(v, list_entry(pos, struct policy, link)));
	}
	(void)r;
}

static void mgmt_policy_put(struct mgmt_req *r, struct vhost *v, const char *name, bool op)
{
	char err[1024];
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, false);
	if (!body)
		return;
	json_t *pat = json_object_get(body, "pattern"), *def = json_object_get(body, "definition");
	json_t *at = json_object_get(body, "apply-to"), *pr = json_object_get(body, "priority");
	char *def_text = NULL;
	if (!pat || !def) {
		mgmt_reply_bad(r, "[%s%s]", !pat ? "{key_missing,pattern}" : "",
			       !def ? "{key_missing,definition}" : "");
		goto out;
	}
	if (!json_is_string(pat) || !json_is_object(def) || (at && !json_is_string(at)) ||
	    (pr && !json_is_integer(pr))) {
		mgmt_reply_bad(r, "pattern must be a string, definition an object, apply-to a string "
				  "and priority an integer");
		goto out;
	}
	def_text = json_dumps(def, JSON_COMPACT);
	bool existed = policy_find(v, name, op) != NULL;
	if (!def_text ||
	    admin_policy_set(v, name, json_string_value(pat), at ? json_string_value(at) : "all",
		       pr ? (int)json_integer_value(pr) : 0, def_text, op, err, sizeof err) != 0) {
		mgmt_reply_bad(r, "Validation failed\n\n%s\n", def_text ? err : "out of memory");
		goto out;
	}
	mgmt_reply_empty(r, existed ? 204 : 201);
out:
	free(def_text);
	json_decref(body);
}

static void mgmt_policies_common(struct mgmt_req *r, bool op)
{
	size_t i;
	if (r->nseg <= 3) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		struct vhost *only = NULL;
		if (r->nseg == 3 && !(only = mgmt_vhost_arg(r, 2)))
			return;
		json_t *arr = json_array();
		for (struct strmap_entry *e = strmap_first(&r->b->vhosts, &i); e;
		     e = strmap_next(&r->b->vhosts, e, &i)) {
			struct vhost *v = e->value;
			if ((!only || v == only) && mgmt_can_see_vhost(r, v->name))
				mgmt_policies_of(r, v, op, arr);
		}
		{ mgmt_reply_json(r, 200, arr); return; }
	}
	if (r->nseg != 4)
		{ mgmt_reply_not_found(r); return; }
	struct vhost *v = mgmt_vhost_arg(r, 2);
	if (!v)
		return;
	const char *name = r->seg[3];
	struct policy *p = v->policies.next ? policy_find(v, name, op) : NULL;
	switch (r->method) {
	case EVHTTP_REQ_GET:
		if (!p)
			{ mgmt_reply_not_found(r); return; }
		{ mgmt_object_reply(r, mgmt_policy_json(v, p)); return; }
	case EVHTTP_REQ_PUT:
		if (op ? !mgmt_require_admin(r) : !mgmt_require_policymaker(r))
			return;
		{ mgmt_policy_put(r, v, name, op); return; }
	case EVHTTP_REQ_DELETE:
		if (op ? !mgmt_require_admin(r) : !mgmt_require_policymaker(r))
			return;
		if (!p)
			{ mgmt_reply_not_found(r); return; }
		admin_policy_delete(v, name, op);
		{ mgmt_reply_empty(r, 204); return; }
	default:
		{ mgmt_reply_method_not_allowed(r); return; }
	}
}

void mgmt_policies_handle(struct mgmt_req *r)
{
	mgmt_policies_common(r, false);
}

void mgmt_operator_policies_handle(struct mgmt_req *r)
{
	mgmt_policies_common(r, true);
}

void mgmt_definitions_handle(struct mgmt_req *r)
{
	char err[1024];
	const char *vhost = NULL;
	if (r->nseg > 3)
		{ mgmt_reply_not_found(r); return; }
	if (r->nseg == 3) {
		struct vhost *v = mgmt_vhost_arg(r, 2);
		if (!v)
			return;
		vhost = v->name;
	}
	if (!mgmt_require_admin(r))
		return;
	if (r->method == EVHTTP_REQ_GET) {
		json_t *doc = definitions_export(r->b, vhost);
		if (!doc)
			{ mgmt_reply_not_found(r); return; }
		{ mgmt_reply_json(r, 200, doc); return; }
	}
	if (r->method != EVHTTP_REQ_POST)
		{ mgmt_reply_method_not_allowed(r); return; }
	json_t *doc = mgmt_body_json(r, MGMT_DEFINITIONS_BODY_MAX, false);
	if (!doc)
		return;
	if (definitions_import(r->b, doc, vhost, err, sizeof err) != 0)
		mgmt_reply_bad(r, "%s", err);
	else
		mgmt_reply_empty(r, 204);
	json_decref(doc);
}
