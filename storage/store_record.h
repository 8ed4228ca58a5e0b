/* storage/store_record.h: the on-disk format of the message log (segment header, records) and
 * CRC32C.
 *
 * A segment file of format 2 starts with a 32-byte header, all little-endian:
 *
 *   0  u8[8] magic        STORE_SEGMENT_MAGIC ("\x89WRN\r\n\x1a\n"; byte 4 is never a
 *                         record's magic, so a format 1 file is never taken for format 2)
 *   8  u32 version        STORE_FORMAT_VERSION
 *  12  u32 header_salt    seed of the record header checksums in this file
 *  16  u32 payload_salt   seed of the payload checksums in this file
 *  20  u8[8] reserved     0
 *  28  u32 crc            CRC32C of bytes 0..27
 *
 * and records follow. Format 1 (Warren 0.1.0) files have no header and salts of 0. Every record
 * is a 16-byte header and a payload:
 *
 *   0  u32 header_crc   CRC32C of header bytes 4..15, seeded with header_salt
 *   4  u8  magic        STORE_RECORD_MAGIC
 *   5  u8  type         enum store_record_type
 *   6  u16 reserved     0
 *   8  u32 len          payload bytes
 *  12  u32 payload_crc  CRC32C of the payload, seeded with payload_salt
 *
 * The header has its own checksum so that recovery can hunt for the next record after a corrupt
 * one byte by byte without checksumming whole payloads at every offset (linear, not quadratic).
 * The salts are random and never leave the file, so bytes a client put in a message body cannot
 * pass for a record of the file (SQLite's WAL salts its frame checksums the same way).
 * docs/storage-format.md describes the payloads.
 */
#ifndef STORAGE_STORE_RECORD_H
#define STORAGE_STORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

/* The data directory format this build writes (segment headers, the definitions document);
 * it reads this one and every older one. */
#define STORE_FORMAT_VERSION 3
#define STORE_SEGMENT_HEADER_SIZE 32
#define STORE_SEGMENT_MAGIC "\x89WRN\r\n\x1a\n"

#define STORE_RECORD_HEADER_SIZE 16
#define STORE_RECORD_MAGIC 0x57 /* 'W' */
/* msg_id, props_len, queue_count, exchange_len, routing_key_len */
#define STORE_RECORD_MESSAGE_FIXED 16
#define STORE_RECORD_PAIR_SIZE 16  /* queue_id, msg_id */
#define STORE_RECORD_PURGE_SIZE 8  /* queue_id */
/* u32 segment and u32 record count, u64 offset: where the batch's first record is, how many */
#define STORE_RECORD_COMMIT_SIZE 16
#define STORE_RECORD_MAX_PAYLOAD (UINT32_MAX - 64)

enum store_record_type {
	STORE_RECORD_MESSAGE = 1, /* a message, written once however many queues it goes to */
	STORE_RECORD_ENQUEUE = 2, /* (queue_id, msg_id) */
	STORE_RECORD_DEQUEUE = 3, /* (queue_id, msg_id) */
	STORE_RECORD_PURGE = 4,   /* queue_id: every message enqueued on it before is gone */
	STORE_RECORD_MOVED = 5,   /* compaction: a message re-written at the head with the
				   * queues it is live in; same id, same payload shape */
	STORE_RECORD_COMMIT = 6,  /* format 2: ends each group commit (first record, count) */
};

/* Checksum seeds of one segment; {0, 0} for format 1. */
struct store_salt {
	uint32_t header, payload;
};

#define STORE_SALT_NONE ((struct store_salt){ 0, 0 })

/* What the first bytes of a segment file say. */
enum store_segment_kind {
	STORE_SEGMENT_V1,      /* no magic: format 1, records from offset 0, unsalted */
	STORE_SEGMENT_V2,      /* a checked format 2 header: records from offset 32 */
	STORE_SEGMENT_EMPTY,   /* the magic but not yet a whole header: nothing in it */
	STORE_SEGMENT_DAMAGED, /* the magic, a known version, a bad checksum */
	STORE_SEGMENT_NEWER,   /* the magic and a version this build does not know */
};

/* A record whose header was checked. */
struct store_record {
	enum store_record_type type;
	uint32_t len;
	const uint8_t *payload;
};

/* A decoded message payload; pointers borrow the payload. */
struct store_record_message {
	uint64_t msg_id;
	uint16_t queue_count;
	const uint8_t *queue_ids; /* queue_count little-endian u64s */
	struct store_message m;
};

uint32_t store_record_crc32c(uint32_t crc, const void *data, size_t len);

static inline void store_record_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void store_record_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void store_record_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t store_record_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t store_record_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t store_record_get_u64(const uint8_t *p)
{
	return (uint64_t)store_record_get_u32(p) | (uint64_t)store_record_get_u32(p + 4) << 32;
}

/* Writes the header for a payload already in place at hdr + STORE_RECORD_HEADER_SIZE. */
void store_record_seal(uint8_t *hdr, enum store_record_type type, uint32_t len,
		       struct store_salt salt);

/* Payload size of a message record with queue_count queue ids; 0 when too large. */
uint64_t store_record_message_len(const struct store_message *m, uint16_t queue_count);
/* Writes a message payload (not the header) into p, which has store_record_message_len bytes. */
void store_record_message_encode(uint8_t *p, uint64_t msg_id, const struct store_message *m,
				 const uint64_t *queue_ids, uint16_t queue_count);
/* 0, or -1 when the payload's lengths do not add up. */
int store_record_message_decode(const uint8_t *p, uint32_t len, struct store_record_message *out);

/* Is there a complete, checksummed record at p (avail bytes)? Returns its total size (> 0) and
 * fills *rec; 0 when the header is fine but the record runs past avail; -1 when the bytes at p
 * are not a record (bad header checksum, magic, type, or payload checksum). */
int64_t store_record_check(const uint8_t *p, size_t avail, struct store_record *rec,
			   struct store_salt salt);

/* A commit record's payload. */
struct store_record_commit {
	uint32_t first_seg, count;
	uint64_t first_off;
};

static inline void store_record_commit_decode(const uint8_t *p, struct store_record_commit *c)
{
	c->first_seg = store_record_get_u32(p);
	c->count = store_record_get_u32(p + 4);
	c->first_off = store_record_get_u64(p + 8);
}

/* Writes a format STORE_FORMAT_VERSION segment header (STORE_SEGMENT_HEADER_SIZE bytes). */
void store_segment_header_encode(uint8_t *p, struct store_salt salt);
/* Reads the start of a segment file (avail bytes): its kind, and for V2 its salt; *version is
 * set for V2, DAMAGED and NEWER. */
enum store_segment_kind store_segment_header_decode(const uint8_t *p, size_t avail,
						    uint32_t *version, struct store_salt *salt);
/* Fresh random salts (getrandom), never {0, 0}. false when the kernel's generator failed and
 * the salt was made from the clock instead (the caller logs it). */
bool store_salt_new(struct store_salt *salt);

#endif
