/* broker/auth.h: users, password checks, SASL PLAIN and AMQPLAIN, vhost permissions. */
#ifndef BROKER_AUTH_H
#define BROKER_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "amqp/wire.h"
#include "broker/strmap.h"

struct broker;

struct permission {
	char *configure, *write, *read; /* regular expressions, RabbitMQ style */
};

struct user {
	char *name;
	char *password; /* plain for now; hashes come with the security work */
	char *tags;     /* "administrator" ... */
	struct strmap permissions; /* vhost name -> struct permission */
};

struct user *auth_user_add(struct broker *b, const char *name, const char *password,
			   const char *tags);
void auth_user_free(struct user *u);
int auth_permission_set(struct user *u, const char *vhost, const char *configure,
			const char *write, const char *read);
const struct permission *auth_permission_find(const struct user *u, const char *vhost);

/* Parses a SASL response for mechanism PLAIN or AMQPLAIN and checks the password.
 * Returns the user or NULL; *name_out receives the attempted user name for the log. */
struct user *auth_sasl(struct broker *b, struct amqp_str mechanism, struct amqp_str response,
		       char *name_out, size_t name_cap);

#endif
