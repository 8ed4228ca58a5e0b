/* broker/core/rng.h: random names. Server-generated names (amq.gen-..., amq.ctag-...) need
 * uniqueness, not secrecy, and come from a fast generator whose state each broker owns
 * (xoshiro256**, seeded from the kernel); names that act as capabilities (direct reply-to
 * tokens) come from the kernel's CSPRNG, because a client that sees a few generated names can
 * recover the fast generator's state and compute the next outputs. */
#ifndef BROKER_CORE_RNG_H
#define BROKER_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t s[4]; /* all zero until the first use seeds it */
};

uint64_t rng_u64(struct rng *r);
/* prefix followed by 22 URL-safe base64 characters of 16 random bytes, like RabbitMQ's
 * base64url names. out must hold strlen(prefix) + 23 bytes. Unique, not secret. */
void rng_name(struct rng *r, const char *prefix, char *out, size_t cap);
/* The same shape from getrandom: nothing a client sees predicts it. 0, or -1 when the kernel
 * gives no random bytes. */
int rng_secret_name(const char *prefix, char *out, size_t cap);

#endif
