/* storage/store_record.c: CRC32C (Castagnoli, software slice-by-8), the segment header and the
 * record codec shared by the writer (store_file.c) and recovery (store_recover.c). No file I/O
 * here. */
#include "storage/store_record.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define CRC32C_POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void store_record_crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^
					     crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
}

/* crc is the CRC of the bytes before (0 to start); the result chains the same way. */
uint32_t store_record_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	pthread_once(&crc32c_once, store_record_crc32c_init);
	crc = ~crc;
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
			      (uint32_t)p[7] << 24;
		crc = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
		      crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
		      crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
		      crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

void store_record_seal(uint8_t *hdr, enum store_record_type type, uint32_t len,
		       struct store_salt salt)
{
	hdr[4] = STORE_RECORD_MAGIC;
	hdr[5] = (uint8_t)type;
	store_record_put_u16(hdr + 6, 0);
	store_record_put_u32(hdr + 8, len);
	store_record_put_u32(hdr + 12, store_record_crc32c(salt.payload,
							   hdr + STORE_RECORD_HEADER_SIZE, len));
	store_record_put_u32(hdr, store_record_crc32c(salt.header, hdr + 4,
						      STORE_RECORD_HEADER_SIZE - 4));
}

void store_segment_header_encode(uint8_t *p, struct store_salt salt)
{
	memcpy(p, STORE_SEGMENT_MAGIC, 8);
	store_record_put_u32(p + 8, STORE_FORMAT_VERSION);
	store_record_put_u32(p + 12, salt.header);
	store_record_put_u32(p + 16, salt.payload);
	memset(p + 20, 0, 8);
	store_record_put_u32(p + 28, store_record_crc32c(0, p, 28));
}

enum store_segment_kind store_segment_header_decode(const uint8_t *p, size_t avail,
						    uint32_t *version, struct store_salt *salt)
{
	if (avail < 8 || memcmp(p, STORE_SEGMENT_MAGIC, 8) != 0)
		return STORE_SEGMENT_V1;
	if (avail < 12)
		return STORE_SEGMENT_EMPTY;
	*version = store_record_get_u32(p + 8);
	/* a newer release may lay its header out differently (even shorter): only magic and
	 * version count */
	if (*version > STORE_FORMAT_VERSION)
		return STORE_SEGMENT_NEWER;
	if (avail < STORE_SEGMENT_HEADER_SIZE)
		return STORE_SEGMENT_EMPTY; /* written with its header first: no record yet */
	if (*version < 2 || store_record_get_u32(p + 28) != store_record_crc32c(0, p, 28))
		return STORE_SEGMENT_DAMAGED;
	salt->header = store_record_get_u32(p + 12);
	salt->payload = store_record_get_u32(p + 16);
	return STORE_SEGMENT_V2;
}

bool store_salt_new(struct store_salt *salt)
{
	uint32_t v[2] = { 0, 0 };
	size_t done = 0;
	bool ok = true;

	while (done < sizeof v) {
		ssize_t n = getrandom((char *)v + done, sizeof v - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			v[0] ^= (uint32_t)ts.tv_nsec * 2654435761u ^ (uint32_t)getpid();
			v[1] ^= (uint32_t)ts.tv_sec * 2246822519u ^ (uint32_t)(uintptr_t)&ts;
			ok = false;
			break;
		}
		done += (size_t)n;
	}
	if (v[0] == 0 && v[1] == 0)
		v[1] = 1; /* {0, 0} is format 1's */
	salt->header = v[0];
	salt->payload = v[1];
	return ok;
}

uint64_t store_record_message_len(const struct store_message *m, uint16_t queue_count)
{
	uint64_t n = STORE_RECORD_MESSAGE_FIXED + 8ull * queue_count;

	if (m->exchange_len > 255 || m->routing_key_len > 255)
		return 0;
	if (m->body_len > STORE_RECORD_MAX_PAYLOAD || m->props_len > STORE_RECORD_MAX_PAYLOAD)
		return 0;
	n += m->exchange_len + m->routing_key_len + (uint64_t)m->props_len + m->body_len;
	return n > STORE_RECORD_MAX_PAYLOAD ? 0 : n;
}

void store_record_message_encode(uint8_t *p, uint64_t msg_id, const struct store_message *m,
				 const uint64_t *queue_ids, uint16_t queue_count)
{
	store_record_put_u64(p, msg_id);
	store_record_put_u32(p + 8, m->props_len);
	store_record_put_u16(p + 12, queue_count);
	p[14] = (uint8_t)m->exchange_len;
	p[15] = (uint8_t)m->routing_key_len;
	p += STORE_RECORD_MESSAGE_FIXED;
	for (uint16_t i = 0; i < queue_count; i++, p += 8)
		store_record_put_u64(p, queue_ids[i]);
	/* memcpy with a NULL source is undefined even for 0 bytes */
	if (m->exchange_len)
		memcpy(p, m->exchange, m->exchange_len);
	p += m->exchange_len;
	if (m->routing_key_len)
		memcpy(p, m->routing_key, m->routing_key_len);
	p += m->routing_key_len;
	if (m->props_len)
		memcpy(p, m->props, m->props_len);
	p += m->props_len;
	if (m->body_len)
		memcpy(p, m->body, m->body_len);
}

int store_record_message_decode(const uint8_t *p, uint32_t len, struct store_record_message *out)
{
	uint64_t need;

	if (len < STORE_RECORD_MESSAGE_FIXED)
		return -1;
	out->msg_id = store_record_get_u64(p);
	out->m.props_len = store_record_get_u32(p + 8);
	out->queue_count = store_record_get_u16(p + 12);
	out->m.exchange_len = p[14];
	out->m.routing_key_len = p[15];
	need = STORE_RECORD_MESSAGE_FIXED + 8ull * out->queue_count + out->m.exchange_len +
	       out->m.routing_key_len + (uint64_t)out->m.props_len;
	if (need > len || out->msg_id == 0)
		return -1;
	p += STORE_RECORD_MESSAGE_FIXED;
	out->queue_ids = p;
	p += 8u * out->queue_count;
	out->m.exchange = p;
	p += out->m.exchange_len;
	out->m.routing_key = p;
	p += out->m.routing_key_len;
	out->m.props = p;
	p += out->m.props_len;
	out->m.body = p;
	out->m.body_len = len - need;
	return 0;
}

int64_t store_record_check(const uint8_t *p, size_t avail, struct store_record *rec,
			   struct store_salt salt)
{
	uint32_t len;

	if (avail < STORE_RECORD_HEADER_SIZE)
		return 0;
	if (p[4] != STORE_RECORD_MAGIC || p[5] < STORE_RECORD_MESSAGE || p[5] > STORE_RECORD_COMMIT)
		return -1;
	if (store_record_get_u32(p) !=
	    store_record_crc32c(salt.header, p + 4, STORE_RECORD_HEADER_SIZE - 4))
		return -1;
	len = store_record_get_u32(p + 8);
	if (avail - STORE_RECORD_HEADER_SIZE < len)
		return 0;
	if (store_record_get_u32(p + 12) !=
	    store_record_crc32c(salt.payload, p + STORE_RECORD_HEADER_SIZE, len))
		return -1;
	rec->type = (enum store_record_type)p[5];
	rec->len = len;
	rec->payload = p + STORE_RECORD_HEADER_SIZE;
	switch (rec->type) {
	case STORE_RECORD_ENQUEUE:
	case STORE_RECORD_DEQUEUE:
		if (len != STORE_RECORD_PAIR_SIZE)
			return -1;
		break;
	case STORE_RECORD_PURGE:
		if (len != STORE_RECORD_PURGE_SIZE)
			return -1;
		break;
	case STORE_RECORD_COMMIT:
		if (len != STORE_RECORD_COMMIT_SIZE)
			return -1;
		break;
	default:
		if (len < STORE_RECORD_MESSAGE_FIXED)
			return -1;
		break;
	}
	return STORE_RECORD_HEADER_SIZE + (int64_t)len;
}
