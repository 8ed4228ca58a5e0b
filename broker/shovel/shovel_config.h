/* broker/shovel/shovel_config.h: a dynamic shovel's definition, the JSON value of its
 * "shovel" runtime parameter, read and validated as rabbitmq_shovel 3.10 does
 * (rabbit_shovel_parameters): the same keys (src-uri, src-queue or src-exchange and
 * src-exchange-key, dest-uri, dest-queue or dest-exchange and dest-exchange-key, ack-mode,
 * prefetch-count, src-delete-after, add-forward-headers, dest-add-timestamp-header,
 * reconnect-delay, ...), the same defaults and the same error texts, one per line. */
#ifndef BROKER_SHOVEL_SHOVEL_CONFIG_H
#define BROKER_SHOVEL_SHOVEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/table.h"

struct broker;
struct user;
struct json_t;

enum shovel_ack_mode { SHOVEL_ON_CONFIRM, SHOVEL_ON_PUBLISH, SHOVEL_NO_ACK };
enum shovel_delete_after { SHOVEL_DELETE_NEVER, SHOVEL_DELETE_QUEUE_LENGTH, SHOVEL_DELETE_COUNT };

struct shovel_config {
	char **src_uris, **dest_uris;
	size_t src_uri_count, dest_uri_count;
	char *src_queue, *src_exchange, *src_exchange_key; /* NULL when absent */
	char *dest_queue, *dest_exchange, *dest_exchange_key;
	struct amqp_buf src_queue_args, dest_queue_args, consumer_args; /* table entries */
	enum shovel_ack_mode ack_mode;
	uint16_t prefetch;
	enum shovel_delete_after delete_after;
	uint64_t delete_count;
	bool add_forward_headers, add_timestamp_header;
	double reconnect_delay; /* seconds; 0: do not reconnect */
	struct json_t *publish_properties; /* dest-publish-properties, or NULL */
};

/* Validates def (the parameter's value) for shovel `name` in `vhost`. user: who sets it, for
 * the check that a direct URI's vhost is one the user may reach (NULL: no check). With out,
 * also fills it (free it with shovel_config_free). 0, or -1 with every error found in err,
 * one per line, as rabbit_runtime_parameters joins them. */
int shovel_config_parse(struct broker *b, const char *vhost, const char *name,
			struct json_t *def, const struct user *user, struct shovel_config *out,
			char *err, size_t errlen);
void shovel_config_free(struct shovel_config *c);

#endif
