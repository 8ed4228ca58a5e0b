/* broker/auth/topic_perm.c: the user's topic permissions, kept in user->topic_permissions under
 * the key "vhost\0exchange". */
#include "broker/auth/topic_perm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/broker.h"

/* vhost NUL exchange into buf; the key's length, or 0 when it does not fit. */
static size_t topic_perm_key(char *buf, size_t cap, const char *vhost, const char *exchange,
			     size_t exchange_len)
{
	size_t vl = strlen(vhost);
	if (vl + 1 + exchange_len > cap)
		return 0;
	memcpy(buf, vhost, vl);
	buf[vl] = '\0';
	memcpy(buf + vl + 1, exchange, exchange_len);
	return vl + 1 + exchange_len;
}

/* Appends n bytes to the growing string *out (len, cap); -1 on out of memory. */
static int topic_perm_append(char **out, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = (*len + n + 1) * 2;
		char *grown = realloc(*out, ncap);
		if (!grown)
			return -1;
		*out = grown;
		*cap = ncap;
	}
	memcpy(*out + *len, s, n);
	*len += n;
	(*out)[*len] = '\0';
	return 0;
}

char *topic_perm_expand(const char *pattern, const char *username, const char *vhost)
{
	static const char *const names[] = { "{username}", "{vhost}" };
	const char *values[] = { username, vhost };
	size_t len = 0, cap = 0;
	char *out = NULL;
	if (topic_perm_append(&out, &len, &cap, "", 0) != 0)
		return NULL;
	for (const char *s = pattern; *s;) {
		const char *from = s, *value = NULL;
		size_t n = 1;
		for (size_t i = 0; i < 2 && !value; i++)
			if (strncmp(s, names[i], strlen(names[i])) == 0) {
				value = values[i];
				n = strlen(names[i]);
			}
		if (value)
			from = value;
		if (topic_perm_append(&out, &len, &cap, from, value ? strlen(value) : 1) != 0) {
			free(out);
			return NULL;
		}
		s += n;
	}
	return out;
}

static void topic_perm_free(struct topic_perm *p)
{
	if (!p)
		return;
	for (int i = 0; i < 2; i++)
		if (!p->all[i])
			regfree(&p->re[i]);
	free(p->vhost);
	free(p->exchange);
	free(p->write);
	free(p->read);
	free(p);
}

int topic_perm_set(struct user *u, const char *vhost, const char *exchange, const char *write,
		   const char *read, char *err, size_t errlen)
{
	char key[600];
	size_t klen = topic_perm_key(key, sizeof key, vhost, exchange, strlen(exchange));
	struct topic_perm *p = calloc(1, sizeof *p);
	int rc = -1;
	if (!p || !klen) {
		snprintf(err, errlen, "%s", p ? "name too long" : "out of memory");
		goto out;
	}
	p->all[0] = p->all[1] = true; /* nothing compiled yet */
	p->vhost = strdup(vhost);
	p->exchange = strdup(exchange);
	p->write = strdup(write);
	p->read = strdup(read);
	if (!p->vhost || !p->exchange || !p->write || !p->read) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	const char *pats[2] = { p->write, p->read };
	for (int i = 0; i < 2; i++) {
		/* RabbitMQ turns "" into "^$" (only the empty key), then expands the variables. */
		char *re = topic_perm_expand(pats[i][0] ? pats[i] : "^$", u->name, vhost);
		if (!re) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		bool all = strcmp(re, ".*") == 0;
		int bad = !all && regcomp(&p->re[i], re, REG_EXTENDED | REG_NOSUB) != 0;
		free(re);
		if (bad) {
			snprintf(err, errlen, "invalid regular expression '%s'", pats[i]);
			goto out;
		}
		p->all[i] = all;
	}
	struct topic_perm *old = strmap_del(&u->topic_permissions, key, klen);
	if (strmap_put(&u->topic_permissions, key, klen, p) != 0) {
		snprintf(err, errlen, "out of memory");
		topic_perm_free(old);
		goto out;
	}
	topic_perm_free(old);
	p = NULL;
	rc = 0;
out:
	topic_perm_free(p);
	u->broker->auth_generation++;
	return rc;
}

size_t topic_perm_clear(struct user *u, const char *vhost, const char *exchange)
{
	char key[600];
	size_t n = 0, i;
	if (exchange) {
		size_t klen = topic_perm_key(key, sizeof key, vhost, exchange, strlen(exchange));
		struct topic_perm *p = klen ? strmap_del(&u->topic_permissions, key, klen) : NULL;
		n = p != NULL;
		topic_perm_free(p);
	} else {
		/* Deleting while iterating is not allowed: restart after each removal. */
		for (bool again = true; again;) {
			again = false;
			for (struct strmap_entry *e = strmap_first(&u->topic_permissions, &i); e;
			     e = strmap_next(&u->topic_permissions, e, &i)) {
				struct topic_perm *p = e->value;
				if (strcmp(p->vhost, vhost) == 0) {
					strmap_del(&u->topic_permissions, e->key, e->key_len);
					topic_perm_free(p);
					n++;
					again = true;
					break;
				}
			}
		}
	}
	u->broker->auth_generation++;
	return n;
}

const struct topic_perm *topic_perm_find(const struct user *u, const char *vhost,
					 const char *exchange, size_t exchange_len)
{
	char key[600];
	if (u->topic_permissions.count == 0)
		return NULL;
	size_t klen = topic_perm_key(key, sizeof key, vhost, exchange, exchange_len);
	return klen ? strmap_get(&u->topic_permissions, key, klen) : NULL;
}

bool topic_perm_permitted(const struct topic_perm *p, enum auth_perm kind, const uint8_t *key,
			  size_t len)
{
	int i = kind == AUTH_WRITE ? 0 : 1;
	char buf[256];
	if (p->all[i])
		return true;
	if (len >= sizeof buf)
		len = sizeof buf - 1;
	memcpy(buf, key, len);
	buf[len] = '\0';
	/* The key is binary: REG_STARTEND matches all len bytes, so a NUL in the key cannot end
	 * it early and let "a\0.secret" pass for "a" under "^a$". */
	regmatch_t whole = { .rm_so = 0, .rm_eo = (regoff_t)len };
	return regexec(&p->re[i], buf, 1, &whole, REG_STARTEND) == 0;
}

void topic_perm_free_all(struct user *u)
{
	size_t i;
	for (struct strmap_entry *e = strmap_first(&u->topic_permissions, &i); e;
	     e = strmap_next(&u->topic_permissions, e, &i))
		topic_perm_free(e->value);
	strmap_clear(&u->topic_permissions);
}
