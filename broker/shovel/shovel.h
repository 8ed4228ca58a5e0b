/* broker/shovel/shovel.h: dynamic shovels, as rabbitmq_shovel runs them. A shovel is the
 * "shovel" runtime parameter (admin/parameters.c) of a vhost: setting it starts a worker that
 * consumes from a source broker and publishes to a destination broker, each reached as an AMQP
 * 0-9-1 client (amqp_client.c) — another Warren, a RabbitMQ, or this broker itself (a URI
 * without a host); clearing it stops the worker. The shovel layer sits above admin/: it is a
 * client of the broker, and the server wires it in (shovels_install).
 *
 * With ack-mode on-confirm (the default) a message is acknowledged to the source only once the
 * destination confirmed it, so when either side dies nothing is lost: what was not confirmed
 * is redelivered by the source (at least once). on-publish acknowledges as soon as it is
 * written to the destination's socket; no-ack consumes without acknowledgements. */
#ifndef BROKER_SHOVEL_SHOVEL_H
#define BROKER_SHOVEL_SHOVEL_H

#include <stdbool.h>

struct broker;
struct json_t;

/* Registers the "shovel" parameter component. 0, or -1 out of memory. */
int shovels_install(struct broker *b);
/* Stops every shovel and frees them (the broker is going away). */
void shovels_free(struct broker *b);

/* Appends the status of each shovel of vhost (NULL: all) to array, as GET /api/shovels shows
 * it: name, vhost, type, state (starting, running, terminated), node, timestamp, and the
 * source and destination while running, the reason when terminated. */
void shovels_status(struct broker *b, const char *vhost, struct json_t *array);
/* Whether vhost has a shovel of that name. */
bool shovels_exists(struct broker *b, const char *vhost, const char *name);
/* Stops the shovel's connections and starts it again at once. 0, or -1 when there is none. */
int shovels_restart(struct broker *b, const char *vhost, const char *name);

#endif
