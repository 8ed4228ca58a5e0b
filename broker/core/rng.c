/* broker/core/rng.c: xoshiro256** for unique names, getrandom for secret ones, and the
 * base64url rendering both share. */
#include "broker/core/rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

static uint64_t rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t rng_u64(struct rng *r)
{
	uint64_t *s = r->s;
	if (!(s[0] | s[1] | s[2] | s[3])) {
		if (getrandom(s, sizeof r->s, 0) != sizeof r->s)
			s[0] = (uint64_t)time(NULL) | 1;
	}
	uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rng_rotl(s[3], 45);
	return result;
}

/* prefix + 22 characters of URL-safe base64 for 128 bits (the last 4 bits padding). */
static void rng_encode(const char *prefix, const uint8_t bytes[18], char *out, size_t cap)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(prefix);
	if (cap < n + 23) {
		if (cap)
			out[0] = '\0';
		return;
	}
	memcpy(out, prefix, n);
	for (int i = 0; i < 22; i++) {
		int bit = i * 6, byte = bit / 8, shift = bit % 8;
		unsigned v = ((unsigned)bytes[byte] << 8 | bytes[byte + 1]) >> (10 - shift);
		out[n + (size_t)i] = b64[v & 63];
	}
	out[n + 22] = '\0';
}

void rng_name(struct rng *r, const char *prefix, char *out, size_t cap)
{
	uint8_t bytes[18] = { 0 };
	uint64_t r0 = rng_u64(r), r1 = rng_u64(r);
	memcpy(bytes, &r0, 8);
	memcpy(bytes + 8, &r1, 8);
	rng_encode(prefix, bytes, out, cap);
}

int rng_secret_name(const char *prefix, char *out, size_t cap)
{
	uint8_t bytes[18] = { 0 };
	size_t got = 0;
	while (got < 16) { /* getrandom returns at most what was asked; EINTR before any byte */
		ssize_t n = getrandom(bytes + got, 16 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	rng_encode(prefix, bytes, out, cap);
	return 0;
}
