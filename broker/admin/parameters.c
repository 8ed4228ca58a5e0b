/* broker/admin/parameters.c: runtime parameters (parameters.h). A short list in the order they
 * were set (the management API and the definitions list them in that order); components in a
 * small array. Setting one marks the definitions dirty, so parameters are saved with them and
 * come back at start-up through the definitions import. */
#include "broker/admin/parameters.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/admin/admin.h"
#include "broker/core/broker.h"
#include "broker/core/event.h"
#include "broker/core/list.h"

#define PARAMETERS_COMPONENTS_MAX 8

struct parameter {
	struct list link;
	char *component, *vhost, *name;
	json_t *value;
};

struct parameters {
	struct list items;
	const struct parameter_component *components[PARAMETERS_COMPONENTS_MAX];
	size_t component_count;
};

static struct parameters *parameters_of(struct broker *b)
{
	if (!b->parameters) {
		struct parameters *p = calloc(1, sizeof *p);
		if (!p)
			return NULL;
		list_init(&p->items);
		b->parameters = p;
	}
	return b->parameters;
}

int parameters_component_register(struct broker *b, const struct parameter_component *c)
{
	struct parameters *p = parameters_of(b);
	if (!p || p->component_count == PARAMETERS_COMPONENTS_MAX)
		return -1;
	p->components[p->component_count++] = c;
	return 0;
}

const struct parameter_component *parameters_component_find(struct broker *b,
							   const char *component)
{
	struct parameters *p = b->parameters;
	for (size_t i = 0; p && i < p->component_count; i++)
		if (strcmp(p->components[i]->name, component) == 0)
			return p->components[i];
	return NULL;
}

static struct parameter *parameters_find(struct broker *b, const char *component,
					 const char *vhost, const char *name)
{
	struct parameters *p = b->parameters;
	struct list *pos;
	if (!p)
		return NULL;
	list_for_each(pos, &p->items)
	{
		struct parameter *x = list_entry(pos, struct parameter, link);
		if (strcmp(x->component, component) == 0 && strcmp(x->vhost, vhost) == 0 &&
		    strcmp(x->name, name) == 0)
			return x;
	}
	return NULL;
}

json_t *parameters_get(struct broker *b, const char *component, const char *vhost,
		       const char *name)
{
	struct parameter *x = parameters_find(b, component, vhost, name);
	return x ? x->value : NULL;
}

int parameters_validate(struct broker *b, const char *component, const char *vhost,
			const char *name, json_t *value, const struct user *user, char *err,
			size_t errlen)
{
	const struct parameter_component *c = parameters_component_find(b, component);
	if (!c) {
		snprintf(err, errlen, "component %s not found", component);
		return ADMIN_BAD;
	}
	if (!admin_vhost_find(b, vhost)) {
		snprintf(err, errlen, "vhost_not_found");
		return ADMIN_NOT_FOUND;
	}
	if (c->validate && c->validate(b, vhost, name, value, user, err, errlen) != 0)
		return ADMIN_BAD;
	return ADMIN_OK;
}

static void parameter_free(struct parameter *x)
{
	free(x->component);
	free(x->vhost);
	free(x->name);
	json_decref(x->value);
	free(x);
}

/* parameter.set / parameter.cleared, the value as RabbitMQ's event shows it (a table). */
static void parameters_event(struct broker *b, const struct parameter *x, bool set)
{
	if (!event_wanted(b))
		return;
	if (!set) {
		EVENT_EMIT(b, "parameter.cleared", EV_CSTR("component", x->component),
			   EV_CSTR("name", x->name), EV_CSTR("vhost", x->vhost), EV_ACTOR());
		return;
	}
	struct amqp_buf t;
	char err[128];
	amqp_buf_init(&t);
	if (admin_table_from_json(x->value, &t, err, sizeof err) == 0 && !t.oom)
		EVENT_EMIT(b, "parameter.set", EV_CSTR("component", x->component),
			   EV_CSTR("name", x->name), EV_CSTR("vhost", x->vhost),
			   EV_TABLE("value", ((struct amqp_table){ t.data, (uint32_t)t.len })),
			   EV_ACTOR());
	amqp_buf_free(&t);
}

static int parameters_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A deep copy whose objects list their keys in order, as RabbitMQ shows a value (an Erlang
 * map). NULL out of memory. */
static json_t *parameters_sorted_copy(json_t *v)
{
	if (json_is_array(v)) {
		json_t *a = json_array(), *it;
		size_t i;
		json_array_foreach(v, i, it)
		{
			if (!a || json_array_append_new(a, parameters_sorted_copy(it)) != 0) {
				json_decref(a);
				return NULL;
			}
		}
		return a;
	}
	if (!json_is_object(v))
		return json_deep_copy(v);
	size_t n = json_object_size(v), k = 0;
	const char **keys = calloc(n ? n : 1, sizeof *keys);
	json_t *o = json_object(), *it;
	const char *key;
	if (!keys || !o) {
		free(keys);
		json_decref(o);
		return NULL;
	}
	json_object_foreach(v, key, it)
		keys[k++] = key;
	qsort(keys, n, sizeof *keys, parameters_key_cmp);
	for (k = 0; k < n; k++) {
		json_t *c = parameters_sorted_copy(json_object_get(v, keys[k]));
		if (!c || json_object_set_new(o, keys[k], c) != 0) {
			json_decref(o);
			o = NULL;
			break;
		}
	}
	free(keys);
	return o;
}

int parameters_set(struct broker *b, const char *component, const char *vhost, const char *name,
		   json_t *value, const struct user *user, char *err, size_t errlen)
{
	int rc = parameters_validate(b, component, vhost, name, value, user, err, errlen);
	if (rc != ADMIN_OK)
		return rc;
	struct parameters *p = parameters_of(b);
	json_t *copy = parameters_sorted_copy(value);
	if (!p || !copy) {
		json_decref(copy);
		snprintf(err, errlen, "out of memory");
		return ADMIN_NO_MEMORY;
	}
	struct parameter *x = parameters_find(b, component, vhost, name);
	bool created = !x;
	if (x) {
		json_decref(x->value);
		x->value = copy;
	} else {
		x = calloc(1, sizeof *x);
		if (x) {
			x->value = copy;
			x->component = strdup(component);
			x->vhost = strdup(vhost);
			x->name = strdup(name);
		}
		if (!x || !x->component || !x->vhost || !x->name) {
			if (x)
				parameter_free(x);
			else
				json_decref(copy);
			snprintf(err, errlen, "out of memory");
			return ADMIN_NO_MEMORY;
		}
		list_append(&p->items, &x->link);
	}
	broker_definitions_dirty(b);
	parameters_event(b, x, true);
	const struct parameter_component *c = parameters_component_find(b, component);
	if (c->set)
		c->set(b, vhost, name, x->value);
	return created ? ADMIN_CREATED : ADMIN_OK;
}

static void parameters_remove(struct broker *b, struct parameter *x)
{
	const struct parameter_component *c = parameters_component_find(b, x->component);
	list_remove(&x->link);
	broker_definitions_dirty(b);
	parameters_event(b, x, false);
	if (c && c->clear)
		c->clear(b, x->vhost, x->name);
	parameter_free(x);
}

int parameters_clear(struct broker *b, const char *component, const char *vhost,
		     const char *name)
{
	struct parameter *x = parameters_find(b, component, vhost, name);
	if (!x)
		return ADMIN_NOT_FOUND;
	parameters_remove(b, x);
	return ADMIN_OK;
}

void parameters_clear_vhost(struct broker *b, const char *vhost)
{
	struct parameters *p = b->parameters;
	struct list *pos, *tmp;
	if (!p)
		return;
	list_for_each_safe(pos, tmp, &p->items)
	{
		struct parameter *x = list_entry(pos, struct parameter, link);
		if (strcmp(x->vhost, vhost) == 0)
			parameters_remove(b, x);
	}
}

void parameters_list(struct broker *b, const char *component, const char *vhost, json_t *array)
{
	struct parameters *p = b->parameters;
	struct list *pos;
	if (!p)
		return;
	list_for_each(pos, &p->items)
	{
		struct parameter *x = list_entry(pos, struct parameter, link);
		if ((component && strcmp(x->component, component) != 0) ||
		    (vhost && strcmp(x->vhost, vhost) != 0))
			continue;
		json_t *o = json_object();
		json_object_set(o, "value", x->value);
		json_object_set_new(o, "vhost", json_string(x->vhost));
		json_object_set_new(o, "component", json_string(x->component));
		json_object_set_new(o, "name", json_string(x->name));
		json_array_append_new(array, o);
	}
}

void parameters_free(struct broker *b)
{
	struct parameters *p = b->parameters;
	if (!p)
		return;
	while (!list_is_empty(&p->items)) {
		struct parameter *x = list_entry(p->items.next, struct parameter, link);
		list_remove(&x->link);
		parameter_free(x);
	}
	free(p);
	b->parameters = NULL;
}
