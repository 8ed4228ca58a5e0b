/* broker/admin/admin.h: operations on broker state without an AMQP channel, for the management API,
 * definitions import and the CLI: declare, delete, bind, purge, publish, get, vhosts and users.
 * They validate as RabbitMQ's management API does and report what went wrong as a status and a
 * one-line reason (RabbitMQ's text without the "PRECONDITION_FAILED - " prefix). Nothing here
 * knows about HTTP or JSON, except the two table converters at the end. */
#ifndef BROKER_ADMIN_H
#define BROKER_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/table.h"
#include "amqp/wire.h"

struct broker;
struct vhost;
struct message;
struct user;
struct json_t;

enum admin_status {
	ADMIN_OK = 0,          /* done; the object already existed (equivalent) */
	ADMIN_CREATED = 1,     /* a new object */
	ADMIN_NOT_FOUND = -1,  /* err names what is missing */
	ADMIN_BAD = -2,        /* invalid or inequivalent (a 406 over AMQP) */
	ADMIN_REFUSED = -3,    /* reserved names, the default exchange (a 403 over AMQP) */
	ADMIN_LOCKED = -4,     /* an exclusive queue of a connection */
	ADMIN_NO_MEMORY = -5,
};

enum admin_ackmode {
	ADMIN_ACK_REQUEUE_TRUE,
	ADMIN_ACK_REQUEUE_FALSE,
	ADMIN_REJECT_REQUEUE_TRUE,
	ADMIN_REJECT_REQUEUE_FALSE,
};

struct vhost *admin_vhost_find(struct broker *b, const char *name);
/* A new vhost with RabbitMQ's predeclared exchanges, registered in b. NULL out of memory. */
struct vhost *admin_vhost_create(struct broker *b, const char *name);
/* Deletes everything in v (queues, then exchanges) and frees it; the caller has unregistered it
 * from b->vhosts (or is freeing the broker). */
void admin_vhost_destroy(struct vhost *v);
/* ADMIN_CREATED or ADMIN_OK when it exists. */
int admin_vhost_add(struct broker *b, const char *name);
/* Closes the vhost's connections (320), deletes everything in it, drops permissions on it. */
int admin_vhost_delete(struct broker *b, const char *name);
/* A vhost's metadata as PUT /api/vhosts/{name} or a definitions "vhosts" entry gives it:
 * "description", "tags" (a comma-separated string or an array of strings) and
 * "default_queue_type" (also read as 3.10's "defaultqueuetype"), each also read from a
 * "metadata" object, which wins. Strings borrow from the JSON; tags are owned. */
struct admin_vhost_meta {
	const char *description;
	char **tags;
	size_t tag_count;
	const char *default_queue_type; /* NULL: not given, or "undefined" */
};
/* ADMIN_OK, ADMIN_BAD (err says which key is wrong) or ADMIN_NO_MEMORY. */
int admin_vhost_meta_parse(struct json_t *o, struct admin_vhost_meta *m, char *err,
			   size_t errlen);
void admin_vhost_meta_free(struct admin_vhost_meta *m);
/* Creates the vhost if needed and sets its metadata: ADMIN_CREATED, ADMIN_OK or
 * ADMIN_NO_MEMORY. */
int admin_vhost_put(struct broker *b, const char *name, const struct admin_vhost_meta *m);

/* Closes the user's connections (320) and deletes the user. ADMIN_NOT_FOUND when absent. */
int admin_user_delete(struct broker *b, const char *name);

int admin_queue_declare(struct vhost *v, struct amqp_str name, bool durable, bool auto_delete,
			struct amqp_table args, char *err, size_t errlen);
int admin_queue_delete(struct vhost *v, struct amqp_str name, bool if_unused, bool if_empty,
		       char *err, size_t errlen);
int admin_queue_purge(struct vhost *v, struct amqp_str name, char *err, size_t errlen);

int admin_exchange_declare(struct vhost *v, struct amqp_str name, struct amqp_str type,
			   bool durable, bool auto_delete, bool internal, struct amqp_table args,
			   char *err, size_t errlen);
int admin_exchange_delete(struct vhost *v, struct amqp_str name, bool if_unused, char *err,
			  size_t errlen);

/* Source exchange src to a queue (dest_is_queue) or an exchange named dest. ADMIN_CREATED, or
 * ADMIN_OK when the binding existed. */
int admin_bind(struct vhost *v, struct amqp_str src, bool dest_is_queue, struct amqp_str dest,
	       struct amqp_str key, struct amqp_table args, char *err, size_t errlen);
/* ADMIN_NOT_FOUND when there is no such binding. */
int admin_unbind(struct vhost *v, struct amqp_str src, bool dest_is_queue, struct amqp_str dest,
		 struct amqp_str key, struct amqp_table args, char *err, size_t errlen);

/* Publishes through an exchange ("" or "amq.default" = the default exchange). props: encoded
 * basic properties (flags + list). *routed tells whether any queue took it. */
int admin_publish(struct vhost *v, struct amqp_str exchange, struct amqp_str rk,
		  const uint8_t *props, size_t props_len, const uint8_t *body, size_t body_len,
		  bool *routed, char *err, size_t errlen);

/* Called once per message admin_get takes; the message is lent for the call. remaining is the
 * number of ready messages left after this one. Returning false refuses m (the reply has no
 * room for it): m and the messages after it stay in the queue as they were. */
typedef bool (*admin_get_fn)(void *arg, const struct message *m, bool redelivered,
			     uint32_t remaining);
/* Takes up to count messages, then requeues them (…_requeue_true), drops them
 * (ack_requeue_false) or rejects them (reject_requeue_false: dead-lettered as basic.reject
 * would). */
int admin_get(struct vhost *v, struct amqp_str queue, uint32_t count, enum admin_ackmode mode,
	      admin_get_fn fn, void *arg, char *err, size_t errlen);

/* Adds or replaces a policy (operator policy when is_operator) and applies it to v's queues and
 * exchanges: 0, or -1 with RabbitMQ's validation text in err. */
int admin_policy_set(struct vhost *v, const char *name, const char *pattern,
		     const char *apply_to, int priority, const char *definition_json,
		     bool is_operator, char *err, size_t errlen);
/* 0, or -1 when there is no such policy. */
int admin_policy_delete(struct vhost *v, const char *name, bool is_operator);

/* JSON arguments object -> AMQP table entries (ints as 'l', reals 'd', strings 'S', bools 't',
 * objects 'F', arrays 'A', null 'V') into out, without the length prefix. 0 or -1 with err. */
int admin_table_from_json(struct json_t *obj, struct amqp_buf *out, char *err, size_t errlen);
/* A table as a JSON object (new reference), as RabbitMQ renders arguments and headers. */
struct json_t *admin_table_to_json(struct amqp_table t);

/* One basic property from JSON, as the management API's publish and a shovel's
 * publish-properties give them (RabbitMQ's names: content_type, ..., delivery_mode, priority,
 * timestamp; not headers, which each caller builds its own way). Sets it in p, pointing into
 * v's string. ADMIN_PROP_SET; ADMIN_PROP_UNKNOWN (not such a name); ADMIN_PROP_NOT_STRING (a
 * string property given something else, or longer than a short string); ADMIN_PROP_BAD_NUMBER
 * (delivery_mode and priority: an integer 0..255; timestamp: an integer >= 0). */
enum admin_prop_result {
	ADMIN_PROP_SET,
	ADMIN_PROP_UNKNOWN,
	ADMIN_PROP_NOT_STRING,
	ADMIN_PROP_BAD_NUMBER,
};
struct amqp_basic_props;
enum admin_prop_result admin_prop_from_json(struct amqp_basic_props *p, const char *key,
					    struct json_t *v);

/* A JSON string from AMQP bytes: invalid UTF-8 and NUL become U+FFFD, so the document stays
 * valid JSON (management replies, the definitions file). */
struct json_t *admin_json_string(const uint8_t *p, size_t len);

struct admin_dlq_result {
	uint64_t moved, kept, unroutable;
	uint64_t refused; /* kept because the user may not write to the target exchange */
};

/* Moves up to limit (-1 = all present now) dead-lettered messages of a queue back where their
 * newest x-death entry says they came from: the queue that dead-lettered them, or with
 * to_original the exchange and routing keys they had been published with. Each message moves
 * once: the copy is routed and the original removed in the same loop turn (and the same
 * store sync). Messages without x-death, or that route nowhere, stay (requeued in place), and
 * so do those whose exchange u may not write to (u NULL: no permission checks). */
int admin_dlq_replay(struct vhost *v, struct amqp_str queue, int64_t limit, bool to_original,
		     const struct user *u, struct admin_dlq_result *res, char *err, size_t errlen);

/* A stream's messages from an offset (first, last, next, a number, an interval such as 10m,
 * or @<seconds since the epoch>), read without a consumer and without changing anything:
 * fn gets each (borrowed) with its offset and timestamp until it returns false or count have
 * gone. ADMIN_NOT_FOUND, ADMIN_BAD (a bad offset, or not a stream) or ADMIN_OK. */
typedef bool (*admin_stream_fn)(void *arg, const struct message *m, uint64_t offset,
				uint64_t timestamp_ms);
int admin_stream_read(struct vhost *v, struct amqp_str queue, const char *from, uint32_t count,
		      admin_stream_fn fn, void *arg, char *err, size_t errlen);

#endif
