/* broker/auth/auth.h: users, RabbitMQ-compatible password hashes, SASL PLAIN and AMQPLAIN, tags and
 * vhost permissions.
 *
 * A password hash is stored as RabbitMQ stores it: base64(salt[4] ++ H(salt[4] ++ password)),
 * with H one of SHA-256 (rabbit_password_hashing_sha256, the default), SHA-512 or MD5, so a
 * definitions file exported from RabbitMQ authenticates unchanged. */
#ifndef BROKER_AUTH_H
#define BROKER_AUTH_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/wire.h"
#include "broker/auth/limits.h"
#include "broker/core/strmap.h"

struct broker;
struct sockaddr;

enum auth_hash { AUTH_HASH_SHA256, AUTH_HASH_SHA512, AUTH_HASH_MD5 };

struct permission {
	char *configure, *write, *read; /* regular expressions, RabbitMQ style */
	regex_t re[3];                  /* compiled, in enum auth_perm order */
	bool all[3];                    /* ".*": no regexec needed */
};

enum auth_perm { AUTH_CONFIGURE, AUTH_WRITE, AUTH_READ };


struct user {
	struct broker *broker;
	char *name;
	enum auth_hash algo;
	uint8_t hash[4 + 64]; /* salt + digest; hash_len 0 = no password (cannot log in) */
	size_t hash_len;
	char *tags; /* comma-separated, as the management API shows them: "administrator" */
	struct strmap permissions; /* vhost name -> struct permission */
	struct strmap topic_permissions; /* "vhost\0exchange" -> struct topic_perm */
	struct limit limits[LIMITS_USER_COUNT]; /* enum limits_user */
};

/* Adds (or replaces) a user with a password hashed with SHA-256 and a fresh salt. NULL password
 * means no password. NULL on out of memory. */
struct user *auth_user_add(struct broker *b, const char *name, const char *password,
			   const char *tags);
/* Adds (or replaces) a user from an exported hash ("" = no password). `algorithm` is RabbitMQ's
 * name (rabbit_password_hashing_sha256|sha512|md5) or NULL for sha256. NULL with err set when the
 * hash or algorithm is invalid. */
struct user *auth_user_add_hashed(struct broker *b, const char *name, const char *hash_b64,
				  const char *algorithm, const char *tags, char *err,
				  size_t errlen);
void auth_user_delete(struct broker *b, const char *name);
void auth_user_free(struct user *u);
int auth_user_set_password(struct user *u, const char *password);
int auth_user_set_tags(struct user *u, const char *tags);
/* Constant-time comparison of the salted hash. */
bool auth_user_check_password(const struct user *u, const uint8_t *password, size_t len);
/* base64 of salt+hash for export ("" when no password), malloc'd. */
char *auth_user_hash_b64(const struct user *u);
const char *auth_hash_name(enum auth_hash algo);
bool auth_user_has_tag(const struct user *u, const char *tag);

int auth_permission_set(struct user *u, const char *vhost, const char *configure,
			const char *write, const char *read);
void auth_permission_clear(struct user *u, const char *vhost);
const struct permission *auth_permission_find(const struct user *u, const char *vhost);
/* What a permission is checked on. */
enum auth_resource { AUTH_RESOURCE_QUEUE, AUTH_RESOURCE_EXCHANGE };

/* The name a resource's permissions are checked (and refusals worded) under: the default
 * exchange "" is "amq.default", as rabbit_access_control:check_resource_access renames it, so a
 * pattern such as "^$" never grants it. */
struct amqp_str auth_resource_name(enum auth_resource kind, struct amqp_str name);
/* Whether the user may configure/write/read the resource in vhost: the permission's regular
 * expression must match the resource name (unanchored, as RabbitMQ's re:run); a pattern ""
 * matches nothing. */
bool auth_permitted(const struct user *u, const char *vhost, enum auth_perm perm,
		    enum auth_resource kind, struct amqp_str name);
/* RabbitMQ's refusal text, without the "ACCESS_REFUSED - " prefix:
 * "access to exchange 'amq.default' in vhost '/' refused for user 'ro'". */
void auth_refusal_text(char *out, size_t cap, const struct user *u, const char *vhost,
		       enum auth_resource kind, struct amqp_str name);


/* Notes a failed login from peer address ip (now_ms: broker_now_ms). Returns how long the refusal
 * should wait, in ms: 0 for the first 3 failures within a minute, then 250 doubling up to 5000.
 * *first_delay is true for the first delayed failure of a run, so the caller logs once. */
uint32_t auth_failure_note(struct broker *b, const char *ip, uint64_t now_ms, bool *first_delay);
/* Frees the failure table (the broker is going). */
void auth_failures_free(struct broker *b);

/* Whether a peer address is loopback as RabbitMQ decides it for loopback_users (guest): any of
 * 127.0.0.0/8, ::1, or an IPv4-mapped loopback address (::ffff:127.0.0.0/104). AMQP and the
 * management API both ask this, so guest is refused or let in the same way on both. */
bool auth_addr_is_loopback(const struct sockaddr *sa);

#endif
