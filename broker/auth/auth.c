/* broker/auth/auth.c: the user table, password hashes and SASL. PLAIN is "\0user\0pass"; AMQPLAIN
 * is a field table (without its length prefix) with LOGIN and PASSWORD longstr entries. */
#include "broker/auth/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "amqp/table.h"
#include "broker/core/broker.h"
#include "broker/auth/topic_perm.h"


static const EVP_MD *auth_md(enum auth_hash algo)
{
	switch (algo) {
	case AUTH_HASH_SHA512:
		return EVP_sha512();
	case AUTH_HASH_MD5:
		return EVP_md5();
	default:
		return EVP_sha256();
	}
}

const char *auth_hash_name(enum auth_hash algo)
{
	switch (algo) {
	case AUTH_HASH_SHA512:
		return "rabbit_password_hashing_sha512";
	case AUTH_HASH_MD5:
		return "rabbit_password_hashing_md5";
	default:
		return "rabbit_password_hashing_sha256";
	}
}

/* out receives H(salt ++ password); returns the digest length or 0. */
static size_t auth_digest(enum auth_hash algo, const uint8_t salt[4], const uint8_t *pw,
			  size_t len, uint8_t *out)
{
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return 0;
	if (EVP_DigestInit_ex(ctx, auth_md(algo), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, salt, 4) != 1 || EVP_DigestUpdate(ctx, pw, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		n = 0;
	EVP_MD_CTX_free(ctx);
	return n;
}

int auth_user_set_password(struct user *u, const char *password)
{
	uint8_t salt[4];
	if (!password) {
		u->hash_len = 0;
		return 0;
	}
	if (getrandom(salt, sizeof salt, 0) != sizeof salt)
		return -1;
	size_t n = auth_digest(AUTH_HASH_SHA256, salt, (const uint8_t *)password,
			       strlen(password), u->hash + 4);
	if (n == 0)
		return -1;
	memcpy(u->hash, salt, 4);
	u->hash_len = 4 + n;
	u->algo = AUTH_HASH_SHA256;
	return 0;
}

bool auth_user_check_password(const struct user *u, const uint8_t *password, size_t len)
{
	uint8_t digest[64];
	if (u->hash_len <= 4)
		return false;
	size_t n = auth_digest(u->algo, u->hash, password, len, digest);
	return n == u->hash_len - 4 && CRYPTO_memcmp(digest, u->hash + 4, n) == 0;
}

char *auth_user_hash_b64(const struct user *u)
{
	char *out = malloc(4 * ((u->hash_len + 2) / 3) + 1);
	if (!out)
		return NULL;
	int n = u->hash_len ? EVP_EncodeBlock((unsigned char *)out, u->hash, (int)u->hash_len) : 0;
	out[n < 0 ? 0 : n] = '\0';
	return out;
}

int auth_user_set_tags(struct user *u, const char *tags)
{
	char *t = strdup(tags ? tags : "");
	if (!t)
		return -1;
	free(u->tags);
	u->tags = t;
	return 0;
}

bool auth_user_has_tag(const struct user *u, const char *tag)
{
	size_t n = strlen(tag);
	for (const char *p = u->tags; p && *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t len = strcspn(p, ", ");
		if (len == n && strncmp(p, tag, n) == 0)
			return true;
		p += len;
	}
	return false;
}

static char *auth_strdup(const char *s)
{
	return strdup(s ? s : "");
}

static struct user *auth_user_new(struct broker *b, const char *name, const char *tags)
{
	struct user *u = calloc(1, sizeof *u);
	if (!u)
		return NULL;
	u->name = auth_strdup(name);
	u->tags = auth_strdup(tags);
	strmap_init(&u->permissions);
	if (!u->name || !u->tags) {
		auth_user_free(u);
		return NULL;
	}
	u->broker = b;
	return u;
}

/* Installs u under its name, replacing (and freeing) any user of that name. */
static struct user *auth_user_install(struct broker *b, struct user *u)
{
	auth_user_free(strmap_del(&b->users, u->name, strlen(u->name)));
	if (strmap_put(&b->users, u->name, strlen(u->name), u) != 0) {
		auth_user_free(u);
		return NULL;
	}
	return u;
}

struct user *auth_user_add(struct broker *b, const char *name, const char *password,
			   const char *tags)
{
	struct user *u = auth_user_new(b, name, tags);
	if (!u)
		return NULL;
	if (auth_user_set_password(u, password) != 0) {
		auth_user_free(u);
		return NULL;
	}
	return auth_user_install(b, u);
}

struct user *auth_user_add_hashed(struct broker *b, const char *name, const char *hash_b64,
				  const char *algorithm, const char *tags, char *err,
				  size_t errlen)
{
	enum auth_hash algo = AUTH_HASH_SHA256;
	if (algorithm && *algorithm) {
		if (strcmp(algorithm, "rabbit_password_hashing_sha256") == 0)
			algo = AUTH_HASH_SHA256;
		else if (strcmp(algorithm, "rabbit_password_hashing_sha512") == 0)
			algo = AUTH_HASH_SHA512;
		else if (strcmp(algorithm, "rabbit_password_hashing_md5") == 0)
			algo = AUTH_HASH_MD5;
		else {
			snprintf(err, errlen, "unsupported hashing algorithm '%s'", algorithm);
			return NULL;
		}
	}
	struct user *u = auth_user_new(b, name, tags);
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->algo = algo;
	size_t len = hash_b64 ? strlen(hash_b64) : 0;
	if (len) {
		uint8_t buf[3 * 128 / 4 + 3];
		size_t want = 4 + (size_t)EVP_MD_get_size(auth_md(algo));
		if (len % 4 || len > 4 * sizeof buf / 3) {
			snprintf(err, errlen, "invalid password_hash for user '%s'", name);
			auth_user_free(u);
			return NULL;
		}
		int n = EVP_DecodeBlock(buf, (const unsigned char *)hash_b64, (int)len);
		if (n > 0) /* EVP_DecodeBlock counts padding bytes as data */
			n -= (hash_b64[len - 1] == '=') + (hash_b64[len - 2] == '=');
		if (n < 0 || (size_t)n != want) {
			snprintf(err, errlen, "invalid password_hash for user '%s'", name);
			auth_user_free(u);
			return NULL;
		}
		memcpy(u->hash, buf, want);
		u->hash_len = want;
	}
	u = auth_user_install(b, u);
	if (!u)
		snprintf(err, errlen, "out of memory");
	return u;
}

void auth_user_delete(struct broker *b, const char *name)
{
	auth_user_free(strmap_del(&b->users, name, strlen(name)));
	b->auth_generation++;
}

static void auth_permission_free(struct permission *p)
{
	if (!p)
		return;
	for (int i = 0; i < 3; i++)
		if (!p->all[i])
			regfree(&p->re[i]);
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
	topic_perm_free_all(u);
	free(u->name);
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
		for (int i = 0; i < 3; i++)
			p->all[i] = true; /* nothing compiled yet */
		auth_permission_free(p);
		return -1;
	}
	const char *pats[3] = { p->configure, p->write, p->read };
	for (int i = 0; i < 3; i++) {
		p->all[i] = strcmp(pats[i], ".*") == 0;
		/* "" denies everything: compile a pattern that cannot match an empty-or-any name. */
		if (!p->all[i] && regcomp(&p->re[i], pats[i][0] ? pats[i] : "$^a",
					  REG_EXTENDED | REG_NOSUB) != 0) {
			for (int j = i; j < 3; j++)
				p->all[j] = true;
			auth_permission_free(p);
			return -1;
		}
	}
	u->broker->auth_generation++;
	auth_permission_free(strmap_del(&u->permissions, vhost, strlen(vhost)));
	if (strmap_put(&u->permissions, vhost, strlen(vhost), p) != 0) {
		auth_permission_free(p);
		return -1;
	}
	return 0;
}

void auth_permission_clear(struct user *u, const char *vhost)
{
	auth_permission_free(strmap_del(&u->permissions, vhost, strlen(vhost)));
	u->broker->auth_generation++;
}

struct amqp_str auth_resource_name(enum auth_resource kind, struct amqp_str name)
{
	if (kind == AUTH_RESOURCE_EXCHANGE && name.len == 0)
		return AMQP_STR_LIT("amq.default");
	return name;
}

bool auth_permitted(const struct user *u, const char *vhost, enum auth_perm perm,
		    enum auth_resource kind, struct amqp_str name)
{
	const struct permission *p = auth_permission_find(u, vhost);
	char buf[256];
	if (!p)
		return false;
	if (p->all[perm])
		return true;
	name = auth_resource_name(kind, name);
	size_t len = name.len < sizeof buf ? name.len : sizeof buf - 1;
	memcpy(buf, name.ptr, len);
	buf[len] = '\0';
	/* The name is binary (an AMQP shortstr may hold NUL): REG_STARTEND matches all len bytes,
	 * so "ok\0other" is not taken for "ok" under "^ok$". */
	regmatch_t whole = { .rm_so = 0, .rm_eo = (regoff_t)len };
	return regexec(&p->re[perm], buf, 1, &whole, REG_STARTEND) == 0;
}

void auth_refusal_text(char *out, size_t cap, const struct user *u, const char *vhost,
		       enum auth_resource kind, struct amqp_str name)
{
	name = auth_resource_name(kind, name);
	snprintf(out, cap, "access to %s '%.*s' in vhost '%s' refused for user '%s'",
		 kind == AUTH_RESOURCE_EXCHANGE ? "exchange" : "queue", AMQP_STR_ARGS(name), vhost,
		 u->name);
}

const struct permission *auth_permission_find(const struct user *u, const char *vhost)
{
	return strmap_get(&u->permissions, vhost, strlen(vhost));
}

/* ---- repeated login failures ----
 * A fixed table of recent failures per peer address (bounded memory whatever the number of
 * addresses): an address hashes to AUTH_FAILURE_PROBE neighbouring slots and takes its own, a free
 * one, or the least recently failed one. Counts restart after a quiet AUTH_FAILURE_WINDOW_MS. */
#define AUTH_FAILURE_SLOTS 1024
#define AUTH_FAILURE_PROBE 8
#define AUTH_FAILURE_FREE 3 /* failures answered at once within a window */
#define AUTH_FAILURE_WINDOW_MS 60000
#define AUTH_FAILURE_DELAY_MS 250
#define AUTH_FAILURE_DELAY_MAX_MS 5000

struct auth_failures {
	struct auth_failure {
		char ip[64];
		uint64_t last_ms;
		uint32_t count;
	} slots[AUTH_FAILURE_SLOTS];
};

void auth_failures_free(struct broker *b)
{
	free(b->auth_failures);
	b->auth_failures = NULL;
}

uint32_t auth_failure_note(struct broker *b, const char *ip, uint64_t now_ms, bool *first_delay)
{
	/* allocated on the first failure (about 80 KiB); without memory, no slow-down */
	if (!b->auth_failures && !(b->auth_failures = calloc(1, sizeof *b->auth_failures))) {
		*first_delay = false;
		return 0;
	}
	struct auth_failure *slots = b->auth_failures->slots;
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = ip; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	struct auth_failure *f = NULL;
	for (uint32_t i = 0; i < AUTH_FAILURE_PROBE && (!f || strcmp(f->ip, ip) != 0); i++) {
		struct auth_failure *s = &slots[(h + i) % AUTH_FAILURE_SLOTS];
		if (strcmp(s->ip, ip) == 0 || !f || s->last_ms < f->last_ms)
			f = s;
	}
	if (strcmp(f->ip, ip) != 0 || now_ms - f->last_ms > AUTH_FAILURE_WINDOW_MS) {
		snprintf(f->ip, sizeof f->ip, "%s", ip);
		f->count = 0;
	}
	f->last_ms = now_ms;
	f->count++;
	*first_delay = f->count == AUTH_FAILURE_FREE + 1;
	if (f->count <= AUTH_FAILURE_FREE)
		return 0;
	uint32_t shift = f->count - AUTH_FAILURE_FREE - 1;
	return shift >= 5 ? AUTH_FAILURE_DELAY_MAX_MS : AUTH_FAILURE_DELAY_MS << shift;
}

bool auth_addr_is_loopback(const struct sockaddr *sa)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}
