/* mgmt/api/mgmt_parameters.c: /api/parameters[/{component}[/{vhost}[/{name}]]] (GET lists and one
 * parameter, PUT {"value": ...}, DELETE) over broker/admin/parameters.h: runtime parameters,
 * which today are shovels. Replies as RabbitMQ's management API: 201 created, 204 replaced or
 * deleted, 400 "Validation failed" with the component's reasons (HTML-escaped, as RabbitMQ
 * escapes them), 404 for a missing vhost or parameter. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "broker/admin/admin.h"
#include "broker/admin/parameters.h"
#include "broker/core/broker.h"
#include "broker/vhost/vhost.h"
#include "mgmt/api/mgmt_internal.h"

/* RabbitMQ's bad_request escapes the reason's angle brackets (rabbit_mgmt_format). */
static void mgmt_parameters_escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in && o + 5 < cap; in++) {
		if (*in == '<' || *in == '>') {
			memcpy(out + o, *in == '<' ? "&lt;" : "&gt;", 4);
			o += 4;
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

static void mgmt_parameters_visible(struct mgmt_req *r, const char *component, json_t *all,
				    json_t *out)
{
	size_t i;
	json_t *o;
	(void)component;
	json_array_foreach(all, i, o)
	{
		if (mgmt_can_see_vhost(r, json_string_value(json_object_get(o, "vhost"))))
			json_array_append(out, o);
	}
}

static void mgmt_parameter_put(struct mgmt_req *r, const char *component, struct vhost *v,
			       const char *name)
{
	char err[4096], esc[8192];
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, false);
	if (!body)
		return;
	json_t *value = json_object_get(body, "value");
	if (!value) {
		mgmt_reply_bad(r, "[{key_missing,value}]");
		json_decref(body);
		return;
	}
	int rc = parameters_set(r->b, component, v->name, name, value, r->user, err, sizeof err);
	json_decref(body);
	switch (rc) {
	case ADMIN_CREATED:
		mgmt_reply_empty(r, 201);
		return;
	case ADMIN_OK:
		mgmt_reply_empty(r, 204);
		return;
	case ADMIN_NOT_FOUND:
		mgmt_reply_error(r, 404, "not_found", "vhost_not_found");
		return;
	case ADMIN_NO_MEMORY:
		mgmt_reply_error(r, 500, "internal_error", "out of memory");
		return;
	default:
		mgmt_parameters_escape(err, esc, sizeof esc);
		mgmt_reply_bad(r, "Validation failed\n\n%s\n", esc);
	}
}

void mgmt_parameters_handle(struct mgmt_req *r)
{
	const char *component = r->nseg > 2 ? r->seg[2] : NULL;
	if (r->nseg > 5)
		{ mgmt_reply_not_found(r); return; }
	if (r->nseg <= 4) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		struct vhost *v = NULL;
		if (r->nseg == 4 && !(v = mgmt_vhost_arg(r, 3)))
			return;
		json_t *all = json_array(), *out = json_array();
		parameters_list(r->b, component, v ? v->name : NULL, all);
		mgmt_parameters_visible(r, component, all, out);
		json_decref(all);
		mgmt_reply_json(r, 200, out);
		return;
	}
	const char *name = r->seg[4];
	struct vhost *v = admin_vhost_find(r->b, r->seg[3]);
	switch (r->method) {
	case EVHTTP_REQ_GET: {
		json_t *value = v ? parameters_get(r->b, component, v->name, name) : NULL;
		if (!value || !mgmt_can_see_vhost(r, v->name))
			{ mgmt_reply_not_found(r); return; }
		json_t *o = json_object();
		json_object_set(o, "value", value);
		json_object_set_new(o, "vhost", json_string(v->name));
		json_object_set_new(o, "component", json_string(component));
		json_object_set_new(o, "name", json_string(name));
		mgmt_object_reply(r, o);
		return;
	}
	case EVHTTP_REQ_PUT:
		if (!mgmt_require_policymaker(r))
			return;
		if (!parameters_component_find(r->b, component)) {
			mgmt_reply_bad(r, "Validation failed\n\ncomponent %s not found\n", component);
			return;
		}
		if (!v)
			{ mgmt_reply_error(r, 404, "not_found", "vhost_not_found"); return; }
		mgmt_parameter_put(r, component, v, name);
		return;
	case EVHTTP_REQ_DELETE:
		if (!mgmt_require_policymaker(r))
			return;
		if (!v || parameters_clear(r->b, component, v->name, name) != ADMIN_OK)
			{ mgmt_reply_not_found(r); return; }
		mgmt_reply_empty(r, 204);
		return;
	default:
		mgmt_reply_method_not_allowed(r);
	}
}
