/* broker/cluster/repl_wire.c: framing, field codecs and the authentication code of the
 * replication protocol (repl_wire.h). The checksum is storage/'s CRC32C. */
#include "broker/cluster/repl_wire.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "storage/store_record.h" /* CRC32C */

void repl_buf_free(struct repl_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

static uint8_t *repl_buf_grow(struct repl_buf *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->oom = true;
				return NULL;
			}
			cap *= 2;
		}
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	uint8_t *at = b->p + b->len;
	b->len += n;
	return at;
}

static void repl_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t repl_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void repl_buf_u8(struct repl_buf *b, uint8_t v)
{
	uint8_t *p = repl_buf_grow(b, 1);
	if (p)
		*p = v;
}

void repl_buf_u32(struct repl_buf *b, uint32_t v)
{
	uint8_t *p = repl_buf_grow(b, 4);
	if (p)
		repl_put_u32(p, v);
}

void repl_buf_u64(struct repl_buf *b, uint64_t v)
{
	repl_buf_u32(b, (uint32_t)v);
	repl_buf_u32(b, (uint32_t)(v >> 32));
}

void repl_buf_bytes(struct repl_buf *b, const void *data, size_t n)
{
	uint8_t *p = n ? repl_buf_grow(b, n) : NULL;
	if (p)
		memcpy(p, data, n);
}

void repl_buf_str(struct repl_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > 65535)
		n = 65535;
	repl_buf_u8(b, (uint8_t)n);
	repl_buf_u8(b, (uint8_t)(n >> 8));
	repl_buf_bytes(b, s, n);
}

size_t repl_frame_begin(struct repl_buf *b, enum repl_type t)
{
	size_t start = b->len;
	repl_buf_u32(b, 0);
	repl_buf_u8(b, (uint8_t)t);
	repl_buf_u32(b, 0);
	return start;
}

void repl_frame_end(struct repl_buf *b, size_t start, size_t data_len)
{
	if (b->oom)
		return;
	uint8_t *f = b->p + start;
	size_t payload = b->len - start - REPL_HEAD_LEN;
	uint32_t crc = store_record_crc32c(0, f + 4, 1);
	crc = store_record_crc32c(crc, f + REPL_HEAD_LEN, payload);
	repl_put_u32(f, (uint32_t)(payload + data_len + 5));
	repl_put_u32(f + 5, crc);
}

int64_t repl_frame_decode(const uint8_t *p, size_t avail, struct repl_frame *f)
{
	uint32_t len, crc, want;
	size_t covered;

	if (avail < REPL_HEAD_LEN)
		return 0;
	len = repl_get_u32(p);
	if (len < 5 || len > REPL_FRAME_MAX || p[4] == 0 || p[4] > REPL_TYPE_MAX)
		return -1;
	/* a PART's head is checked as soon as it is here, before waiting for its data */
	covered = p[4] == REPL_PART ? REPL_PART_HEAD : len - 5;
	if (covered > len - 5)
		return -1;
	if (avail < REPL_HEAD_LEN + covered)
		return 0;
	crc = repl_get_u32(p + 5);
	want = store_record_crc32c(store_record_crc32c(0, p + 4, 1), p + REPL_HEAD_LEN, covered);
	if (crc != want)
		return -1;
	if (avail < (size_t)len + 4)
		return 0;
	f->type = (enum repl_type)p[4];
	f->payload = p + REPL_HEAD_LEN;
	f->len = len - 5;
	return (int64_t)len + 4;
}

void repl_reader_init(struct repl_reader *r, const struct repl_frame *f)
{
	r->p = f->payload;
	r->len = f->len;
	r->off = 0;
	r->bad = false;
}

const uint8_t *repl_read_bytes(struct repl_reader *r, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t repl_read_u8(struct repl_reader *r)
{
	const uint8_t *p = repl_read_bytes(r, 1);
	return p ? *p : 0;
}

uint32_t repl_read_u32(struct repl_reader *r)
{
	const uint8_t *p = repl_read_bytes(r, 4);
	return p ? repl_get_u32(p) : 0;
}

uint64_t repl_read_u64(struct repl_reader *r)
{
	uint64_t lo = repl_read_u32(r);
	return lo | (uint64_t)repl_read_u32(r) << 32;
}

void repl_read_str(struct repl_reader *r, char *buf, size_t cap)
{
	size_t n = repl_read_u8(r);
	n |= (size_t)repl_read_u8(r) << 8;
	const uint8_t *p = repl_read_bytes(r, n);
	buf[0] = '\0';
	if (!p)
		return;
	if (n >= cap || memchr(p, 0, n)) {
		r->bad = true;
		return;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
}

const uint8_t *repl_read_rest(struct repl_reader *r, size_t *n)
{
	*n = r->bad ? 0 : r->len - r->off;
	const uint8_t *p = r->p + r->off;
	r->off = r->len;
	return p;
}

void repl_mac(const char *password, const char *role, const uint8_t nonce[REPL_NONCE_LEN],
	      const char *cluster, const char *name, uint8_t out[REPL_MAC_LEN])
{
	struct repl_buf msg = { 0 };
	unsigned int outlen = REPL_MAC_LEN;
	const char *key = password ? password : "";

	repl_buf_str(&msg, role);
	repl_buf_bytes(&msg, nonce, REPL_NONCE_LEN);
	repl_buf_str(&msg, cluster);
	repl_buf_str(&msg, name);
	if (msg.oom || !HMAC(EVP_sha256(), key, (int)strlen(key), msg.p, msg.len, out, &outlen))
		memset(out, 0, REPL_MAC_LEN); /* matches nothing the other side computes */
	repl_buf_free(&msg);
}

bool repl_mac_equal(const uint8_t a[REPL_MAC_LEN], const uint8_t b[REPL_MAC_LEN])
{
	return CRYPTO_memcmp(a, b, REPL_MAC_LEN) == 0;
}

void repl_nonce(uint8_t out[REPL_NONCE_LEN])
{
	size_t done = 0;
	while (done < REPL_NONCE_LEN) {
		ssize_t n = getrandom(out + done, REPL_NONCE_LEN - done, 0);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done < REPL_NONCE_LEN) {
		/* never in practice: the clock still makes a nonce that is not reused */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = done; i < REPL_NONCE_LEN; i++)
			out[i] = (uint8_t)((uint64_t)ts.tv_nsec >> ((i % 8) * 8)) ^ (uint8_t)i;
	}
}
