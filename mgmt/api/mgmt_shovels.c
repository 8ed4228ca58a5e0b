/* mgmt/api/mgmt_shovels.c: rabbitmq_shovel_management's endpoints over broker/shovel/shovel.h:
 * GET /api/shovels and /api/shovels/{vhost} (every shovel's status), GET
 * /api/shovels/vhost/{vhost}/{name} (one, in a list), DELETE of the same (the shovel's
 * parameter is cleared) and DELETE .../{name}/restart. As RabbitMQ, a user with the monitoring
 * tag (or administrator) may use all of them. */
#include <jansson.h>
#include <string.h>

#include "broker/admin/admin.h"
#include "broker/admin/parameters.h"
#include "broker/core/broker.h"
#include "broker/shovel/shovel.h"
#include "broker/vhost/vhost.h"
#include "mgmt/api/mgmt_internal.h"

static bool mgmt_shovels_allowed(struct mgmt_req *r)
{
	if (r->is_admin || r->is_monitor)
		return true;
	mgmt_reply_error(r, 401, "not_authorised", "Not monitor user");
	return false;
}

void mgmt_shovels_handle(struct mgmt_req *r)
{
	if (!mgmt_shovels_allowed(r))
		return;
	/* /api/shovels[/{vhost}] */
	if (r->nseg <= 3) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		struct vhost *v = NULL;
		if (r->nseg == 3 && !(v = mgmt_vhost_arg(r, 2)))
			return;
		json_t *all = json_array(), *out = json_array();
		size_t i;
		json_t *o;
		shovels_status(r->b, v ? v->name : NULL, all);
		json_array_foreach(all, i, o)
		{
			if (mgmt_can_see_vhost(r, json_string_value(json_object_get(o, "vhost"))))
				json_array_append(out, o);
		}
		json_decref(all);
		mgmt_reply_json(r, 200, out);
		return;
	}
	/* /api/shovels/vhost/{vhost}/{name}[/restart] */
	bool restart = r->nseg == 6 && strcmp(r->seg[5], "restart") == 0;
	if (strcmp(r->seg[2], "vhost") != 0 || r->nseg < 5 || (r->nseg == 6 && !restart) ||
	    r->nseg > 6)
		{ mgmt_reply_not_found(r); return; }
	struct vhost *v = mgmt_vhost_arg(r, 3);
	if (!v)
		return;
	const char *name = r->seg[4];
	if (!shovels_exists(r->b, v->name, name))
		{ mgmt_reply_not_found(r); return; }
	switch (r->method) {
	case EVHTTP_REQ_GET: {
		json_t *all = json_array(), *out = json_array();
		size_t i;
		json_t *o;
		shovels_status(r->b, v->name, all);
		json_array_foreach(all, i, o)
		{
			if (strcmp(json_string_value(json_object_get(o, "name")), name) == 0)
				json_array_append(out, o);
		}
		json_decref(all);
		mgmt_reply_json(r, 200, out);
		return;
	}
	case EVHTTP_REQ_DELETE:
		if (restart)
			shovels_restart(r->b, v->name, name);
		else
			parameters_clear(r->b, "shovel", v->name, name);
		mgmt_reply_empty(r, 204);
		return;
	default:
		mgmt_reply_method_not_allowed(r);
	}
}
