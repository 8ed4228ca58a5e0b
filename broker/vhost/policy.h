/* broker/vhost/policy.h: policies and operator policies per vhost, as RabbitMQ has them: a name, a
 * regular expression matched against queue/exchange names, what they apply to, a priority and a
 * definition of x-argument-like keys. For each queue or exchange the highest-priority matching
 * policy applies (one policy, not a merge); operator policies cap numeric limits. For numeric
 * limits (message-ttl, expires, max-length, max-length-bytes, delivery-limit) the smallest of
 * argument, policy and operator policy wins; for the others the queue argument wins. Streams
 * decide their own (the policy wins over the argument there, as in RabbitMQ). */
#ifndef BROKER_POLICY_H
#define BROKER_POLICY_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/core/list.h"

struct vhost;

enum policy_apply_to {
	POLICY_APPLY_ALL,
	POLICY_APPLY_QUEUES,
	POLICY_APPLY_CLASSIC_QUEUES,
	POLICY_APPLY_QUORUM_QUEUES,
	POLICY_APPLY_EXCHANGES,
};

/* Parsed definition values; -1 (or NULL) when the key is absent. */
struct policy_def {
	int64_t message_ttl, expires, max_length, max_length_bytes, delivery_limit,
		consumer_timeout;
	char *overflow;              /* drop-head | reject-publish | reject-publish-dlx */
	char *dead_letter_exchange;
	char *dead_letter_routing_key;
	char *alternate_exchange;
	char *queue_mode;
	/* streams' (RabbitMQ's policy keys max-age and stream-max-segment-size-bytes) */
	char *max_age;                          /* "7D" ... */
	int64_t stream_max_segment_size_bytes;
};

struct policy {
	struct list link; /* in vhost->policies or vhost->operator_policies */
	char *name, *pattern;
	enum policy_apply_to apply_to;
	int priority;
	char *definition_json; /* the definition object, as JSON text (for the management API) */
	bool is_operator;
	regex_t re;
	struct policy_def def;
};

/* Creates or replaces a policy in v's list (admin_policy_set applies it to the vhost's queues
 * and exchanges). apply_to: "all", "queues", "classic_queues", "quorum_queues", "exchanges". definition_json: a
 * JSON object with RabbitMQ's policy keys (message-ttl, expires, max-length, max-length-bytes,
 * overflow, dead-letter-exchange, dead-letter-routing-key, alternate-exchange, delivery-limit,
 * queue-mode, consumer-timeout, max-age, stream-max-segment-size-bytes). 0, or -1 with a one-line reason in err (bad regex, unknown or
 * mistyped key, bad apply-to). */
int policy_set(struct vhost *v, const char *name, const char *pattern, const char *apply_to,
	       int priority, const char *definition_json, bool is_operator, char *err,
	       size_t errlen);
/* 0, or -1 when there is no such policy. */
int policy_delete(struct vhost *v, const char *name, bool is_operator);
struct policy *policy_find(struct vhost *v, const char *name, bool is_operator);
const char *policy_apply_to_name(enum policy_apply_to a);
/* The policy in effect for a queue (is_queue) or exchange name, or NULL. */
const struct policy *policy_match(struct vhost *v, const char *name, size_t name_len,
				  bool is_queue, bool is_operator);
void policy_free_all(struct vhost *v);

#endif
