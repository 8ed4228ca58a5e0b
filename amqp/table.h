/* amqp/table.h: AMQP field tables and arrays as RabbitMQ speaks them.
 * A decoded table stays in wire form (struct amqp_table borrows the bytes after the 4-byte length
 * prefix); readers walk it with an iterator. Writers build tables into a growable struct amqp_buf.
 * Field types (RabbitMQ's set): t bool, b int8, B uint8, s int16, u uint16, I int32, i uint32,
 * l int64 (also L, py-amqp's spelling), f float, d double, D decimal, S longstr, A array,
 * T timestamp, F table, V void, x byte array. Any other type octet makes the table malformed. */
#ifndef AMQP_TABLE_H
#define AMQP_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define AMQP_TABLE_MAX_DEPTH 32

/* Encoded entries (or array values) without the 4-byte length prefix. */
struct amqp_table {
	const uint8_t *ptr;
	uint32_t len;
};

struct amqp_decimal {
	uint8_t scale;
	uint32_t value;
};

struct amqp_value {
	uint8_t type; /* the type octet: 't', 'b', 'B', ... */
	union {
		bool b;                  /* t */
		int64_t i;               /* b s I l (sign-extended) */
		uint64_t u;              /* B u i T */
		float f;                 /* f */
		double d;                /* d */
		struct amqp_decimal dec; /* D */
		struct amqp_str str;     /* S x */
		struct amqp_table table; /* F (entries) and A (values) */
	} v;
};

/* Checks that p[0..len) is a well-formed sequence of table entries (keys are any short string,
 * including the empty one, as RabbitMQ accepts) with known types and nesting at most
 * AMQP_TABLE_MAX_DEPTH (the outermost table counts as 1). Returns 0 or -1. */
int amqp_table_validate(const uint8_t *p, size_t len);
/* Same for the value sequence of an array. */
int amqp_array_validate(const uint8_t *p, size_t len);

struct amqp_table_iter {
	const uint8_t *p, *end;
};

void amqp_table_iter_init(struct amqp_table_iter *it, struct amqp_table t);
/* 1: *key and *val filled; 0: end; -1: malformed (never after amqp_table_validate said 0). */
int amqp_table_next(struct amqp_table_iter *it, struct amqp_str *key, struct amqp_value *val);
void amqp_array_iter_init(struct amqp_table_iter *it, struct amqp_table array);
int amqp_array_next(struct amqp_table_iter *it, struct amqp_value *val);

/* Looks a key up (first match). Returns true and fills *val when found. */
bool amqp_table_get(struct amqp_table t, const char *key, struct amqp_value *val);
size_t amqp_table_count(struct amqp_table t);

/* Integer value of any integer type (b B s u I i l T); false for others. */
bool amqp_value_as_int(const struct amqp_value *v, int64_t *out);
/* RabbitMQ's equality for headers matching and argument equivalence: integers of any width
 * compare by value, strings by bytes, tables and arrays by their bytes, floats by value. */
bool amqp_value_equal(const struct amqp_value *a, const struct amqp_value *b);
/* RabbitMQ's AMQP type names as used in its error texts: t bool, b byte, B unsignedbyte,
 * s short, u unsignedshort, I signedint, i unsignedint, l long, f float, d double, D decimal,
 * S longstr, A array, T timestamp, F table, V void, x binary; "unknown" for other octets. */
const char *amqp_value_type_name(uint8_t type);
/* Writes the value as RabbitMQ prints it in inequivalent-arg texts ('10', 'true', 'abc'):
 * integers in decimal, bools as true/false, longstr and binary as raw bytes, decimals as
 * "123.45", arrays as "[1,a]", tables as "{k=v}", void as "void". Truncates like snprintf
 * and returns the length the whole text needs. */
int amqp_value_format(const struct amqp_value *v, char *buf, size_t cap);

/* ---- writing ---- */

/* A growable byte buffer. On allocation failure `oom` is set and later writes do nothing, so a
 * builder checks once at the end. */
struct amqp_buf {
	uint8_t *data;
	size_t len, cap;
	bool oom;
};

void amqp_buf_init(struct amqp_buf *b);
void amqp_buf_free(struct amqp_buf *b);
void amqp_buf_reset(struct amqp_buf *b); /* len = 0, keeps memory */
void amqp_buf_put(struct amqp_buf *b, const void *p, size_t n);
void amqp_buf_put_u8(struct amqp_buf *b, uint8_t v);
void amqp_buf_put_u16(struct amqp_buf *b, uint16_t v);
void amqp_buf_put_u32(struct amqp_buf *b, uint32_t v);
void amqp_buf_put_u64(struct amqp_buf *b, uint64_t v);
void amqp_buf_put_shortstr(struct amqp_buf *b, struct amqp_str s); /* truncates to 255 */
void amqp_buf_put_longstr(struct amqp_buf *b, struct amqp_str s);

/* Tables and arrays: begin returns the offset of the length placeholder, end patches it.
 * Between them, write entries with amqp_buf_put_shortstr(key) + one amqp_buf_put_value_*,
 * or for arrays just values. */
size_t amqp_buf_table_begin(struct amqp_buf *b);
void amqp_buf_table_end(struct amqp_buf *b, size_t at);
void amqp_buf_put_value(struct amqp_buf *b, const struct amqp_value *v); /* type octet + value */
void amqp_buf_put_value_longstr(struct amqp_buf *b, struct amqp_str s);
void amqp_buf_put_value_bool(struct amqp_buf *b, bool v);
void amqp_buf_put_value_long(struct amqp_buf *b, int64_t v);     /* 'l' */
void amqp_buf_put_value_timestamp(struct amqp_buf *b, uint64_t v); /* 'T' */
/* Re-encodes the entries of t into b (no length prefix), leaving out the keys listed in skip
 * (NULL-terminated; NULL skips nothing). For rewriting message headers. */
void amqp_buf_put_entries_except(struct amqp_buf *b, struct amqp_table t,
				 const char *const *skip);
/* Copies an already-encoded table (entries) with its 4-byte length: an 'F' value needs the
 * type octet first (amqp_buf_put_u8(b, 'F')). */
void amqp_buf_put_table(struct amqp_buf *b, struct amqp_table t);

#endif
