/* broker/admin/parameters.h: runtime parameters, as RabbitMQ's rabbit_runtime_parameters keeps
 * them: (component, vhost, name) -> a JSON value, shown by /api/parameters, carried by the
 * definitions ("parameters") and so saved with them. A component (the shovel, from a layer
 * above this one) registers what it does with its values: validate a value before it is
 * stored, and act when one is set or cleared. The vhost-limits component is the vhost's own
 * (admin.c / definitions.c) and is not kept here. */
#ifndef BROKER_ADMIN_PARAMETERS_H
#define BROKER_ADMIN_PARAMETERS_H

#include <stdbool.h>
#include <stddef.h>

struct broker;
struct user;
struct json_t;

struct parameter_component {
	const char *name; /* "shovel" */
	/* 0, or -1 with RabbitMQ's validation text in err (several lines joined by '\n').
	 * user: who is setting it (NULL: the broker itself, e.g. a definitions import). */
	int (*validate)(struct broker *b, const char *vhost, const char *name,
			struct json_t *value, const struct user *user, char *err, size_t errlen);
	/* The value was stored (created or replaced): borrowed for the call. */
	void (*set)(struct broker *b, const char *vhost, const char *name, struct json_t *value);
	/* The value was removed (DELETE, its vhost deleted, the component clearing its own). */
	void (*clear)(struct broker *b, const char *vhost, const char *name);
};

/* Makes the component's values settable. 0, or -1 out of memory. */
int parameters_component_register(struct broker *b, const struct parameter_component *c);
const struct parameter_component *parameters_component_find(struct broker *b,
							   const char *component);

/* Validates and stores value (borrowed; a copy is kept), then tells the component.
 * ADMIN_CREATED, ADMIN_OK (replaced), ADMIN_NOT_FOUND (no vhost: err "vhost_not_found"),
 * ADMIN_BAD (an unknown component or a refused value: err holds the text), ADMIN_NO_MEMORY. */
int parameters_set(struct broker *b, const char *component, const char *vhost, const char *name,
		   struct json_t *value, const struct user *user, char *err, size_t errlen);
/* Validation only (definitions import checks everything before changing anything). */
int parameters_validate(struct broker *b, const char *component, const char *vhost,
			const char *name, struct json_t *value, const struct user *user, char *err,
			size_t errlen);
/* ADMIN_OK or ADMIN_NOT_FOUND. */
int parameters_clear(struct broker *b, const char *component, const char *vhost,
		     const char *name);
/* Clears every parameter of the vhost (it is being deleted). */
void parameters_clear_vhost(struct broker *b, const char *vhost);
/* The stored value (borrowed), or NULL. */
struct json_t *parameters_get(struct broker *b, const char *component, const char *vhost,
			      const char *name);
/* Appends {"value", "vhost", "component", "name"} objects, as RabbitMQ lists them, for the
 * parameters matching component and vhost (NULL: any). */
void parameters_list(struct broker *b, const char *component, const char *vhost,
		     struct json_t *array);
/* Frees every parameter and component registration (the broker is going away; components are
 * not told). */
void parameters_free(struct broker *b);

#endif
