/* broker/admin/definitions.h: RabbitMQ's definitions document (the shape of GET /api/definitions):
 * users with their password hashes, vhosts, permissions, policies, durable queues, exchanges and
 * bindings. Export builds it from broker state; import applies one, after validating it all, so
 * a bad file changes nothing. Used by the management API and by the durability layer; nothing
 * here knows about HTTP. */
#ifndef BROKER_DEFINITIONS_H
#define BROKER_DEFINITIONS_H

#include <stddef.h>

#include <jansson.h>

struct broker;

/* The whole broker (vhost NULL), or one vhost in RabbitMQ's per-vhost shape (no users, vhosts
 * or permissions; no "vhost" keys in the items). New reference, NULL if the vhost is unknown. */
json_t *definitions_export(struct broker *b, const char *vhost);
/* Creates and updates what doc describes. With vhost set, items without a "vhost" key go there
 * and sections other than queues, exchanges, bindings and policies are ignored. 0, or -1 with a
 * one-line reason in err (then nothing was changed, except on out of memory). */
int definitions_import(struct broker *b, json_t *doc, const char *vhost, char *err,
		       size_t errlen);

#endif
