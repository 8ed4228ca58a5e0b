/* broker/cluster/repl_wire.h: the frames of the replication protocol between a leader and its
 * followers (docs/clustering.md draws the conversation). Pure code: bytes in, decoded frames out
 * and back, no sockets. Every frame is
 *
 *   u32 len    bytes after this field
 *   u8  type   enum repl_type
 *   u32 crc    CRC32C of the type byte and the payload (for PART only of the type byte and its
 *              20-byte head: the records it carries have their own checksums, which the
 *              follower checks with store_replica_part before writing them)
 *   payload
 *
 * all little-endian, strings as u16 length + bytes. A FILE frame is followed by `len` raw bytes
 * of the file, outside the framing; the whole file's CRC32C is checked once it is written. */
#ifndef BROKER_CLUSTER_REPL_WIRE_H
#define BROKER_CLUSTER_REPL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPL_VERSION 1
#define REPL_NONCE_LEN 32
#define REPL_MAC_LEN 32
#define REPL_HEAD_LEN 9                     /* len, type, crc */
#define REPL_FRAME_MAX ((1u << 30) + 4096u) /* a run of the log may hold a 512 MiB record */
#define REPL_PART_HEAD 20                   /* seq, seg, off */

enum repl_type {
	REPL_HELLO = 1,      /* L->F: version, leader revision, nonce, leader name, cluster */
	REPL_AUTH = 2,       /* F->L: mac, nonce, highest revision seen, node name, cluster */
	REPL_WELCOME = 3,    /* L->F: mac (the leader knows the password too), the last seq
			      * before this follower's stream starts */
	REPL_REFUSE = 4,     /* either way: why, then the sender closes */
	REPL_NOT_LEADER = 5, /* a node that does not lead: who does (may be empty) */
	REPL_MANIFEST = 6,   /* L->F: the leader's files: name, size, crc */
	REPL_FETCH = 7,      /* F->L: the files it wants: name, from, crc of its first `from` */
	REPL_FILE = 8,       /* L->F: name, from, len; len raw bytes follow */
	REPL_SNAP_END = 9,   /* L->F: every fetched file was sent */
	REPL_SYNCED = 10,    /* F->L: the snapshot is on its disk; the stream may count */
	REPL_PART = 11,      /* L->F: seq, segment, offset, a run of whole records */
	REPL_SEQ_END = 12,   /* L->F: seq, records, bytes: the batch seq is complete */
	REPL_DELETE = 13,    /* L->F: seq, segment deleted */
	REPL_DEFS = 14,      /* L->F: seq, the definitions document */
	REPL_PING = 15,      /* L->F: the last seq sent; the follower answers with an ACK */
	REPL_ACK = 16,       /* F->L: every seq up to this one is on its disk */
	REPL_FAULT = 17,     /* F->L: why it gives up this stream (disk full, a bad record) */
	REPL_FILEPART = 18,  /* L->F: seq, name, offset, bytes of a stream's file (the whole
			      * frame is checksummed: streams' indexes have no checksums) */
	REPL_FILEGONE = 19,  /* L->F: seq, name: a stream's file was removed */
	REPL_TYPE_MAX = 19,
};

/* A growable output buffer. */
struct repl_buf {
	uint8_t *p;
	size_t len, cap;
	bool oom; /* an append failed: the content is incomplete */
};

void repl_buf_free(struct repl_buf *b);
void repl_buf_u8(struct repl_buf *b, uint8_t v);
void repl_buf_u32(struct repl_buf *b, uint32_t v);
void repl_buf_u64(struct repl_buf *b, uint64_t v);
void repl_buf_bytes(struct repl_buf *b, const void *p, size_t n);
void repl_buf_str(struct repl_buf *b, const char *s); /* truncated at 65535 bytes */

/* Starts a frame of type t at the end of b; returns its offset for repl_frame_end. */
size_t repl_frame_begin(struct repl_buf *b, enum repl_type t);
/* Fills in len and crc of the frame begun at start: the crc covers the type and the payload,
 * or for PART only the type and the first REPL_PART_HEAD bytes of the payload, whose
 * remaining data_len bytes the caller appends (or sends) after the frame. */
void repl_frame_end(struct repl_buf *b, size_t start, size_t data_len);

/* A decoded frame: payload borrows the input. */
struct repl_frame {
	enum repl_type type;
	const uint8_t *payload;
	size_t len;
};

/* Decodes one frame from p (avail bytes): its total size (> 0), 0 when more bytes are needed,
 * or -1 when the bytes are not a frame (length out of bounds, unknown type, bad checksum). A
 * PART's records are not checked here. */
int64_t repl_frame_decode(const uint8_t *p, size_t avail, struct repl_frame *f);

/* Reads the fields of a payload in order; any read past the end sets bad and yields zeros. */
struct repl_reader {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

void repl_reader_init(struct repl_reader *r, const struct repl_frame *f);
uint8_t repl_read_u8(struct repl_reader *r);
uint32_t repl_read_u32(struct repl_reader *r);
uint64_t repl_read_u64(struct repl_reader *r);
const uint8_t *repl_read_bytes(struct repl_reader *r, size_t n);
/* Copies a string into buf (cap bytes, NUL-terminated); a string longer than cap - 1 or
 * holding a NUL byte sets bad. */
void repl_read_str(struct repl_reader *r, char *buf, size_t cap);
/* The bytes not read yet. */
const uint8_t *repl_read_rest(struct repl_reader *r, size_t *n);

/* The authentication code of one side: HMAC-SHA256 keyed with the shared password (empty when
 * none is set) over a role tag ("follower" or "leader"), the nonce the other side chose, the
 * cluster identity and the node name of the side that computes it. */
void repl_mac(const char *password, const char *role, const uint8_t nonce[REPL_NONCE_LEN],
	      const char *cluster, const char *name, uint8_t out[REPL_MAC_LEN]);
/* Compares in constant time. */
bool repl_mac_equal(const uint8_t a[REPL_MAC_LEN], const uint8_t b[REPL_MAC_LEN]);
/* Fills a nonce from the kernel's generator. */
void repl_nonce(uint8_t out[REPL_NONCE_LEN]);

#endif
