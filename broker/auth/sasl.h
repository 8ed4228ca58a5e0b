/* broker/auth/sasl.h: the SASL mechanisms a connection may log in with, behind one small
 * interface: which the connection is offered, and the user a start-ok's response stands for. */
#ifndef BROKER_AUTH_SASL_H
#define BROKER_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "amqp/wire.h"

struct broker;
struct user;

/* What a login brings: the start-ok response, and the verified client certificate's CN (NULL
 * or "" without one). */
struct sasl_login {
	struct amqp_str response;
	const char *tls_cn;
};

struct sasl_mechanism {
	const char *name;
	/* Whether this connection may use it (EXTERNAL: only with a verified certificate). */
	bool (*available)(const struct sasl_login *l);
	/* The user the login stands for, or NULL with a reason for the log in *why; name_out
	 * receives the attempted user name either way. */
	struct user *(*authenticate)(struct broker *b, const struct sasl_login *l, char *name_out,
				     size_t name_cap, const char **why);
};

/* The mechanism of that name when this connection may use it, else NULL (an unsupported
 * mechanism). */
const struct sasl_mechanism *sasl_find(struct amqp_str name, const struct sasl_login *l);
/* The space-separated list connection.start offers this connection ("EXTERNAL AMQPLAIN PLAIN"
 * with a certificate, else "AMQPLAIN PLAIN"); returns its length. */
size_t sasl_offer(const struct sasl_login *l, char *out, size_t cap);

#endif
