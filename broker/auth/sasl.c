/* broker/auth/sasl.c: the SASL mechanisms connection.start offers, each behind struct
 * sasl_mechanism: PLAIN and AMQPLAIN (a user name and a password, checked against the user's
 * salted hash) and EXTERNAL (the verified client certificate's CN is the user name, as
 * rabbitmq_auth_mechanism_ssl does; offered only where there is one). */
#include "broker/auth/sasl.h"

#include <stdio.h>
#include <string.h>

#include "amqp/table.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"

static void sasl_copy_name(struct amqp_str s, char *out, size_t cap)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;
	memcpy(out, s.ptr, n);
	out[n] = '\0';
}

/* The user a name and password stand for, or NULL with why. */
static struct user *sasl_password_user(struct broker *b, struct amqp_str user, struct amqp_str pass,
				       char *name_out, size_t name_cap, const char **why)
{
	sasl_copy_name(user, name_out, name_cap);
	struct user *u = strmap_get(&b->users, user.ptr, user.len);
	if (!u || !auth_user_check_password(u, pass.ptr, pass.len)) {
		*why = "invalid credentials";
		return NULL;
	}
	return u;
}

static bool sasl_always(const struct sasl_login *l)
{
	(void)l;
	return true;
}

/* PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd */
static struct user *sasl_plain(struct broker *b, const struct sasl_login *l, char *name_out,
			       size_t name_cap, const char **why)
{
	struct amqp_str r = l->response;
	const uint8_t *end = r.ptr + r.len;
	const uint8_t *z1 = r.len ? memchr(r.ptr, 0, r.len) : NULL;
	const uint8_t *z2 = z1 ? memchr(z1 + 1, 0, (size_t)(end - z1 - 1)) : NULL;
	if (!z2) {
		*why = "invalid credentials";
		return NULL;
	}
	struct amqp_str user = { z1 + 1, (uint32_t)(z2 - z1 - 1) };
	struct amqp_str pass = { z2 + 1, (uint32_t)(end - z2 - 1) };
	return sasl_password_user(b, user, pass, name_out, name_cap, why);
}

/* AMQPLAIN: a field table with LOGIN and PASSWORD */
static struct user *sasl_amqplain(struct broker *b, const struct sasl_login *l, char *name_out,
				  size_t name_cap, const char **why)
{
	struct amqp_table t = { l->response.ptr, l->response.len };
	struct amqp_value user, pass;
	if (amqp_table_validate(t.ptr, t.len) != 0 || !amqp_table_get(t, "LOGIN", &user) ||
	    user.type != 'S' || !amqp_table_get(t, "PASSWORD", &pass) || pass.type != 'S') {
		*why = "invalid credentials";
		return NULL;
	}
	return sasl_password_user(b, user.v.str, pass.v.str, name_out, name_cap, why);
}

static bool sasl_external_available(const struct sasl_login *l)
{
	return l->tls_cn && l->tls_cn[0];
}

static struct user *sasl_external(struct broker *b, const struct sasl_login *l, char *name_out,
				  size_t name_cap, const char **why)
{
	snprintf(name_out, name_cap, "%s", l->tls_cn);
	struct user *u = strmap_get(&b->users, l->tls_cn, strlen(l->tls_cn));
	if (!u)
		*why = "no user for the certificate's CN";
	return u;
}

/* In the order connection.start offers them. */
static const struct sasl_mechanism sasl_mechanisms[] = {
	{ "EXTERNAL", sasl_external_available, sasl_external },
	{ "AMQPLAIN", sasl_always, sasl_amqplain },
	{ "PLAIN", sasl_always, sasl_plain },
};

#define SASL_COUNT (sizeof sasl_mechanisms / sizeof sasl_mechanisms[0])

const struct sasl_mechanism *sasl_find(struct amqp_str name, const struct sasl_login *l)
{
	for (size_t i = 0; i < SASL_COUNT; i++)
		if (amqp_str_eq_c(name, sasl_mechanisms[i].name))
			return sasl_mechanisms[i].available(l) ? &sasl_mechanisms[i] : NULL;
	return NULL;
}

size_t sasl_offer(const struct sasl_login *l, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < SASL_COUNT; i++)
		if (sasl_mechanisms[i].available(l) && n < cap)
			n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "",
					      sasl_mechanisms[i].name);
	return n < cap ? n : cap - 1;
}
