/* broker/auth.c: the user table and SASL. PLAIN is "\0user\0pass"; AMQPLAIN is a field table
 * (without its length prefix) with LOGIN and PASSWORD longstr entries. */
#include "broker/auth.h"

#include <stdlib.h>
#include <string.h>

#include "amqp/table.h"
#include "broker/broker.h"

static char *auth_strdup(const char *s)
{
	return strdup(s ? s : "");
}

struct user *auth_user_add(struct broker *b, const char *name, const char *password,
			   const char *tags)
{
	struct user *u = calloc(1, sizeof *u);
	if (!u)
		return NULL;
	u->name = auth_strdup(name);
	u->password = auth_strdup(password);
	u->tags = auth_strdup(tags);
	strmap_init(&u->permissions);
	if (!u->name || !u->password || !u->tags ||
	    strmap_put(&b->users, name, strlen(name), u) != 0) {
		auth_user_free(u);
		return NULL;
	}
	return u;
}

static void auth_permission_free(struct permission *p)
{
	if (!p)
		return;
	free(p->configure);
	free(p->write);
	free(p->read);
	free(p);
}

void auth_user_free(struct user *u)
{
	size_t i;
	if (!u)
		return;
	for (struct strmap_entry *e = strmap_first(&u->permissions, &i); e;
	     e = strmap_next(&u->permissions, e, &i))
		auth_permission_free(e->value);
	strmap_clear(&u->permissions);
	free(u->name);
	free(u->password);
	free(u->tags);
	free(u);
}

int auth_permission_set(struct user *u, const char *vhost, const char *configure,
			const char *write, const char *read)
{
	struct permission *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	p->configure = auth_strdup(configure);
	p->write = auth_strdup(write);
	p->read = auth_strdup(read);
	if (!p->configure || !p->write || !p->read) {
		auth_permission_free(p);
		return -1;
	}
	auth_permission_free(strmap_del(&u->permissions, vhost, strlen(vhost)));
	if (strmap_put(&u->permissions, vhost, strlen(vhost), p) != 0) {
		auth_permission_free(p);
		return -1;
	}
	return 0;
}

const struct permission *auth_permission_find(const struct user *u, const char *vhost)
{
	return strmap_get(&u->permissions, vhost, strlen(vhost));
}

static void auth_copy_name(struct amqp_str s, char *out, size_t cap)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;
	memcpy(out, s.ptr, n);
	out[n] = '\0';
}

static int auth_parse_plain(struct amqp_str r, struct amqp_str *user, struct amqp_str *pass)
{
	/* [authzid] NUL authcid NUL passwd */
	const uint8_t *p = r.ptr, *end = r.ptr + r.len;
	const uint8_t *z1 = memchr(p, 0, r.len);
	if (!z1)
		return -1;
	const uint8_t *z2 = memchr(z1 + 1, 0, (size_t)(end - z1 - 1));
	if (!z2)
		return -1;
	*user = (struct amqp_str){ z1 + 1, (uint32_t)(z2 - z1 - 1) };
	*pass = (struct amqp_str){ z2 + 1, (uint32_t)(end - z2 - 1) };
	return 0;
}

static int auth_parse_amqplain(struct amqp_str r, struct amqp_str *user, struct amqp_str *pass)
{
	struct amqp_table t = { r.ptr, r.len };
	struct amqp_value v;
	if (amqp_table_validate(r.ptr, r.len) != 0)
		return -1;
	if (!amqp_table_get(t, "LOGIN", &v) || v.type != 'S')
		return -1;
	*user = v.v.str;
	if (!amqp_table_get(t, "PASSWORD", &v) || v.type != 'S')
		return -1;
	*pass = v.v.str;
	return 0;
}

struct user *auth_sasl(struct broker *b, struct amqp_str mechanism, struct amqp_str response,
		       char *name_out, size_t name_cap)
{
	struct amqp_str user = { 0 }, pass = { 0 };
	int rc;

	name_out[0] = '\0';
	if (amqp_str_eq_c(mechanism, "PLAIN"))
		rc = auth_parse_plain(response, &user, &pass);
	else if (amqp_str_eq_c(mechanism, "AMQPLAIN"))
		rc = auth_parse_amqplain(response, &user, &pass);
	else
		return NULL;
	if (rc != 0)
		return NULL;
	auth_copy_name(user, name_out, name_cap);
	struct user *u = strmap_get(&b->users, user.ptr, user.len);
	if (!u || strlen(u->password) != pass.len || memcmp(u->password, pass.ptr, pass.len) != 0)
		return NULL;
	return u;
}
