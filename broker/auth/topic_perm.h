/* broker/auth/topic_perm.h: RabbitMQ's topic permissions: per user, vhost and topic exchange, a
 * write and a read regular expression matched against routing keys (basic.publish) and
 * binding keys (queue.bind/unbind, exchange.bind/unbind with a topic source).
 *
 * A user with no topic permission for an exchange may use every key on it, as in RabbitMQ.
 * Every change bumps auth_generation, so channels may cache a found permission. */
#ifndef BROKER_TOPIC_PERM_H
#define BROKER_TOPIC_PERM_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/auth/auth.h"

struct topic_perm {
	char *vhost, *exchange;
	char *write, *read;
	regex_t re[2];  /* write, read */
	bool all[2];    /* ".*": no regexec needed */
};

/* The pattern with RabbitMQ's variables "{username}" and "{vhost}" replaced by the values,
 * literally (no regex quoting, as rabbit_auth_backend_internal:expand_topic_permission). An AMQP
 * 0-9-1 connection has no other variables ("{client_id}" comes from MQTT only), so the result
 * depends on the user and vhost alone and is compiled once, when the permission is set.
 * Caller frees; NULL on out of memory. */
char *topic_perm_expand(const char *pattern, const char *username, const char *vhost);
/* Adds or replaces the user's permission for vhost/exchange; the stored write and read keep
 * the unexpanded text (as listed and exported), the compiled expressions are expanded. 0, or -1 with err set (bad
 * regular expression, out of memory). */
int topic_perm_set(struct user *u, const char *vhost, const char *exchange, const char *write,
		   const char *read, char *err, size_t errlen);
/* Removes the permission for one exchange, or every one in the vhost when exchange is NULL.
 * Returns how many were removed. */
size_t topic_perm_clear(struct user *u, const char *vhost, const char *exchange);
/* Borrowed; NULL when the user has none for that exchange. */
const struct topic_perm *topic_perm_find(const struct user *u, const char *vhost,
					 const char *exchange, size_t exchange_len);
/* kind is AUTH_WRITE or AUTH_READ. Unanchored match, as RabbitMQ's re:run. */
bool topic_perm_permitted(const struct topic_perm *p, enum auth_perm kind, const uint8_t *key,
			  size_t len);
void topic_perm_free_all(struct user *u);

#endif
