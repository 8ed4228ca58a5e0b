/* amqp/table.c: AMQP field tables and arrays, read in place and written into struct amqp_buf.
 * A table arrives inside a method argument or the headers property; it is validated once (types,
 * lengths, nesting) and then read with iterators that borrow the frame bytes. Arguments the
 * broker stores (queue arguments, bindings) are copied by the caller as whole encoded tables. */
#include "table.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "wire.h"

/* Decodes the value of `type` at p[0..left). Returns the bytes it takes or -1 when the type is
 * unknown or the value runs past `left`. Nested tables and arrays are not looked into. */
static ssize_t table_value_decode(uint8_t type, const uint8_t *p, size_t left, struct amqp_value *v)
{
	uint32_t n, bits32;
	uint64_t bits64;

	v->type = type;
	switch (type) {
	case 't':
		if (left < 1)
			return -1;
		v->v.b = p[0] != 0;
		return 1;
	case 'b':
		if (left < 1)
			return -1;
		v->v.i = (int8_t)p[0];
		return 1;
	case 'B':
		if (left < 1)
			return -1;
		v->v.u = p[0];
		return 1;
	case 's':
		if (left < 2)
			return -1;
		v->v.i = (int16_t)amqp_get_u16(p);
		return 2;
	case 'u':
		if (left < 2)
			return -1;
		v->v.u = amqp_get_u16(p);
		return 2;
	case 'I':
		if (left < 4)
			return -1;
		v->v.i = (int32_t)amqp_get_u32(p);
		return 4;
	case 'i':
		if (left < 4)
			return -1;
		v->v.u = amqp_get_u32(p);
		return 4;
	case 'l':
	case 'L': /* py-amqp's long long; RabbitMQ accepts it */
		if (left < 8)
			return -1;
		v->v.i = (int64_t)amqp_get_u64(p);
		return 8;
	case 'T':
		if (left < 8)
			return -1;
		v->v.u = amqp_get_u64(p);
		return 8;
	case 'f':
		if (left < 4)
			return -1;
		bits32 = amqp_get_u32(p);
		memcpy(&v->v.f, &bits32, sizeof v->v.f);
		return 4;
	case 'd':
		if (left < 8)
			return -1;
		bits64 = amqp_get_u64(p);
		memcpy(&v->v.d, &bits64, sizeof v->v.d);
		return 8;
	case 'D':
		if (left < 5)
			return -1;
		v->v.dec.scale = p[0];
		v->v.dec.value = amqp_get_u32(p + 1);
		return 5;
	case 'V':
		return 0;
	case 'S':
	case 'x':
	case 'A':
	case 'F':
		if (left < 4)
			return -1;
		n = amqp_get_u32(p);
		if (left - 4 < n)
			return -1;
		if (type == 'S' || type == 'x')
			v->v.str = (struct amqp_str){ p + 4, n };
		else
			v->v.table = (struct amqp_table){ p + 4, n };
		return (ssize_t)(4 + (size_t)n);
	default:
		return -1;
	}
}

/* Reads one entry (key unless is_array, type octet, value) at it->p. */
static int table_iter_step(struct amqp_table_iter *it, bool is_array, struct amqp_str *key,
			   struct amqp_value *val)
{
	const uint8_t *p = it->p;
	size_t left = (size_t)(it->end - p);
	ssize_t n;

	if (left == 0)
		return 0;
	if (!is_array) {
		uint8_t klen = p[0];
		if (left - 1 < klen)
			return -1;
		if (key)
			*key = (struct amqp_str){ p + 1, klen };
		p += 1 + klen;
		left -= 1 + (size_t)klen;
	}
	if (left < 1)
		return -1;
	n = table_value_decode(p[0], p + 1, left - 1, val);
	if (n < 0)
		return -1;
	it->p = p + 1 + n;
	return 1;
}

static int table_check(const uint8_t *p, size_t len, unsigned depth, bool is_array)
{
	struct amqp_table_iter it = { p, len ? p + len : p };
	struct amqp_value v;
	int rc;

	if (depth > AMQP_TABLE_MAX_DEPTH)
		return -1;
	while ((rc = table_iter_step(&it, is_array, NULL, &v)) == 1) {
		if (v.type == 'F' && table_check(v.v.table.ptr, v.v.table.len, depth + 1, false) != 0)
			return -1;
		if (v.type == 'A' && table_check(v.v.table.ptr, v.v.table.len, depth + 1, true) != 0)
			return -1;
	}
	return rc;
}

int amqp_table_validate(const uint8_t *p, size_t len)
{
	return table_check(p, len, 1, false);
}

int amqp_array_validate(const uint8_t *p, size_t len)
{
	return table_check(p, len, 1, true);
}

void amqp_table_iter_init(struct amqp_table_iter *it, struct amqp_table t)
{
	/* an empty table may be { NULL, 0 }: no arithmetic on it */
	it->p = t.ptr;
	it->end = t.len ? t.ptr + t.len : t.ptr;
}

int amqp_table_next(struct amqp_table_iter *it, struct amqp_str *key, struct amqp_value *val)
{
	struct amqp_str k;
	int rc = table_iter_step(it, false, &k, val);

	if (rc == 1 && key)
		*key = k;
	if (rc < 0)
		it->p = it->end; /* stay at the end: a second call does not re-read garbage */
	return rc;
}

void amqp_array_iter_init(struct amqp_table_iter *it, struct amqp_table array)
{
	amqp_table_iter_init(it, array);
}

int amqp_array_next(struct amqp_table_iter *it, struct amqp_value *val)
{
	int rc = table_iter_step(it, true, NULL, val);

	if (rc < 0)
		it->p = it->end;
	return rc;
}

bool amqp_table_get(struct amqp_table t, const char *key, struct amqp_value *val)
{
	struct amqp_table_iter it;
	struct amqp_str k;
	struct amqp_value v;

	amqp_table_iter_init(&it, t);
	while (amqp_table_next(&it, &k, &v) == 1) {
		if (amqp_str_eq_c(k, key)) {
			*val = v;
			return true;
		}
	}
	return false;
}

size_t amqp_table_count(struct amqp_table t)
{
	struct amqp_table_iter it;
	struct amqp_str k;
	struct amqp_value v;
	size_t n = 0;

	amqp_table_iter_init(&it, t);
	while (amqp_table_next(&it, &k, &v) == 1)
		n++;
	return n;
}

bool amqp_value_as_int(const struct amqp_value *v, int64_t *out)
{
	switch (v->type) {
	case 'b':
	case 's':
	case 'I':
	case 'l':
	case 'L':
		*out = v->v.i;
		return true;
	case 'B':
	case 'u':
	case 'i':
	case 'T':
		if (v->v.u > INT64_MAX)
			return false;
		*out = (int64_t)v->v.u;
		return true;
	default:
		return false;
	}
}

static bool value_is_signed_int(uint8_t type)
{
	return type == 'b' || type == 's' || type == 'I' || type == 'l' || type == 'L';
}

static bool value_is_unsigned_int(uint8_t type)
{
	return type == 'B' || type == 'u' || type == 'i' || type == 'T';
}

static bool value_is_int(uint8_t type)
{
	return value_is_signed_int(type) || value_is_unsigned_int(type);
}

static bool value_int_equal(const struct amqp_value *a, const struct amqp_value *b)
{
	bool a_neg = value_is_signed_int(a->type) && a->v.i < 0;
	bool b_neg = value_is_signed_int(b->type) && b->v.i < 0;
	uint64_t a_bits = value_is_signed_int(a->type) ? (uint64_t)a->v.i : a->v.u;
	uint64_t b_bits = value_is_signed_int(b->type) ? (uint64_t)b->v.i : b->v.u;

	return a_neg == b_neg && a_bits == b_bits;
}

bool amqp_value_equal(const struct amqp_value *a, const struct amqp_value *b)
{
	if (value_is_int(a->type) && value_is_int(b->type))
		return value_int_equal(a, b);
	if ((a->type == 'f' || a->type == 'd') && (b->type == 'f' || b->type == 'd')) {
		double x = a->type == 'f' ? (double)a->v.f : a->v.d;
		double y = b->type == 'f' ? (double)b->v.f : b->v.d;
		return x == y;
	}
	if ((a->type == 'S' || a->type == 'x') && (b->type == 'S' || b->type == 'x'))
		return amqp_str_eq(a->v.str, b->v.str);
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case 't':
		return a->v.b == b->v.b;
	case 'D':
		return a->v.dec.scale == b->v.dec.scale && a->v.dec.value == b->v.dec.value;
	case 'V':
		return true;
	case 'A':
	case 'F':
		return amqp_str_eq((struct amqp_str){ a->v.table.ptr, a->v.table.len },
				   (struct amqp_str){ b->v.table.ptr, b->v.table.len });
	default:
		return false;
	}
}

const char *amqp_value_type_name(uint8_t type)
{
	switch (type) {
	case 't':
		return "bool";
	case 'b':
		return "byte";
	case 'B':
		return "unsignedbyte";
	case 's':
		return "short";
	case 'u':
		return "unsignedshort";
	case 'I':
		return "signedint";
	case 'i':
		return "unsignedint";
	case 'l':
	case 'L':
		return "long";
	case 'f':
		return "float";
	case 'd':
		return "double";
	case 'D':
		return "decimal";
	case 'S':
		return "longstr";
	case 'A':
		return "array";
	case 'T':
		return "timestamp";
	case 'F':
		return "table";
	case 'V':
		return "void";
	case 'x':
		return "binary";
	default:
		return "unknown";
	}
}

/* ---- formatting: snprintf-like, counts what would have been written ---- */

struct table_fmt {
	char *buf;
	size_t cap, len;
};

static void table_fmt_put(struct table_fmt *f, const char *s, size_t n)
{
	if (f->cap > 0 && f->len < f->cap - 1) {
		size_t room = f->cap - 1 - f->len;
		memcpy(f->buf + f->len, s, n < room ? n : room);
	}
	f->len += n;
}

static void table_fmt_printf(struct table_fmt *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void table_fmt_printf(struct table_fmt *f, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		table_fmt_put(f, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void table_fmt_decimal(struct table_fmt *f, struct amqp_decimal dec)
{
	char digits[16];
	int n = snprintf(digits, sizeof digits, "%" PRIu32, dec.value);

	if (dec.scale == 0) {
		table_fmt_put(f, digits, (size_t)n);
		return;
	}
	if (dec.scale >= n) {
		table_fmt_put(f, "0.", 2);
		for (int i = n; i < dec.scale; i++)
			table_fmt_put(f, "0", 1);
		table_fmt_put(f, digits, (size_t)n);
		return;
	}
	table_fmt_put(f, digits, (size_t)(n - dec.scale));
	table_fmt_put(f, ".", 1);
	table_fmt_put(f, digits + n - dec.scale, dec.scale);
}

static void table_fmt_value(struct table_fmt *f, const struct amqp_value *v, unsigned depth)
{
	struct amqp_table_iter it;
	struct amqp_str key;
	struct amqp_value item;
	bool first = true;

	switch (v->type) {
	case 't':
		table_fmt_put(f, v->v.b ? "true" : "false", v->v.b ? 4 : 5);
		break;
	case 'b':
	case 's':
	case 'I':
	case 'l':
	case 'L':
		table_fmt_printf(f, "%" PRId64, v->v.i);
		break;
	case 'B':
	case 'u':
	case 'i':
	case 'T':
		table_fmt_printf(f, "%" PRIu64, v->v.u);
		break;
	case 'f':
		table_fmt_printf(f, "%g", (double)v->v.f);
		break;
	case 'd':
		table_fmt_printf(f, "%g", v->v.d);
		break;
	case 'D':
		table_fmt_decimal(f, v->v.dec);
		break;
	case 'S':
	case 'x':
		table_fmt_put(f, (const char *)v->v.str.ptr, v->v.str.len);
		break;
	case 'V':
		table_fmt_put(f, "void", 4);
		break;
	case 'A':
	case 'F':
		if (depth >= AMQP_TABLE_MAX_DEPTH) {
			table_fmt_put(f, "...", 3);
			break;
		}
		table_fmt_put(f, v->type == 'A' ? "[" : "{", 1);
		amqp_table_iter_init(&it, v->v.table);
		while ((v->type == 'A' ? amqp_array_next(&it, &item)
				       : amqp_table_next(&it, &key, &item)) == 1) {
			if (!first)
				table_fmt_put(f, ",", 1);
			first = false;
			if (v->type == 'F') {
				table_fmt_put(f, (const char *)key.ptr, key.len);
				table_fmt_put(f, "=", 1);
			}
			table_fmt_value(f, &item, depth + 1);
		}
		table_fmt_put(f, v->type == 'A' ? "]" : "}", 1);
		break;
	default:
		table_fmt_put(f, "?", 1);
		break;
	}
}

int amqp_value_format(const struct amqp_value *v, char *buf, size_t cap)
{
	struct table_fmt f = { buf, cap, 0 };

	table_fmt_value(&f, v, 0);
	if (cap > 0)
		buf[f.len < cap ? f.len : cap - 1] = '\0';
	return f.len > INT_MAX ? INT_MAX : (int)f.len;
}

/* ---- writing ---- */

void amqp_buf_init(struct amqp_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

void amqp_buf_free(struct amqp_buf *b)
{
	free(b->data);
	amqp_buf_init(b);
}

void amqp_buf_reset(struct amqp_buf *b)
{
	b->len = 0;
	b->oom = false;
}

/* Makes room for n more bytes; false (and oom set) when it cannot. */
static bool buf_reserve(struct amqp_buf *b, size_t n)
{
	size_t want, cap;
	uint8_t *data;

	if (b->oom)
		return false;
	if (n <= b->cap - b->len)
		return true;
	if (n > SIZE_MAX - b->len)
		goto fail;
	want = b->len + n;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	data = realloc(b->data, cap);
	if (!data)
		goto fail;
	b->data = data;
	b->cap = cap;
	return true;
fail:
	b->oom = true;
	return false;
}

void amqp_buf_put(struct amqp_buf *b, const void *p, size_t n)
{
	if (n == 0 || !buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void amqp_buf_put_u8(struct amqp_buf *b, uint8_t v)
{
	amqp_buf_put(b, &v, 1);
}

void amqp_buf_put_u16(struct amqp_buf *b, uint16_t v)
{
	uint8_t tmp[2];

	amqp_put_u16(tmp, v);
	amqp_buf_put(b, tmp, sizeof tmp);
}

void amqp_buf_put_u32(struct amqp_buf *b, uint32_t v)
{
	uint8_t tmp[4];

	amqp_put_u32(tmp, v);
	amqp_buf_put(b, tmp, sizeof tmp);
}

void amqp_buf_put_u64(struct amqp_buf *b, uint64_t v)
{
	uint8_t tmp[8];

	amqp_put_u64(tmp, v);
	amqp_buf_put(b, tmp, sizeof tmp);
}

void amqp_buf_put_shortstr(struct amqp_buf *b, struct amqp_str s)
{
	uint8_t n = s.len > 255 ? 255 : (uint8_t)s.len;

	amqp_buf_put_u8(b, n);
	amqp_buf_put(b, s.ptr, n);
}

void amqp_buf_put_longstr(struct amqp_buf *b, struct amqp_str s)
{
	amqp_buf_put_u32(b, s.len);
	amqp_buf_put(b, s.ptr, s.len);
}

size_t amqp_buf_table_begin(struct amqp_buf *b)
{
	size_t at = b->len;

	amqp_buf_put_u32(b, 0);
	return at;
}

void amqp_buf_table_end(struct amqp_buf *b, size_t at)
{
	size_t n;

	if (b->oom || at > b->len || b->len - at < 4)
		return;
	n = b->len - at - 4;
	if (n > UINT32_MAX) {
		b->oom = true; /* cannot be framed: treat like an allocation failure */
		return;
	}
	amqp_put_u32(b->data + at, (uint32_t)n);
}

void amqp_buf_put_value(struct amqp_buf *b, const struct amqp_value *v)
{
	uint32_t bits32;
	uint64_t bits64;

	switch (v->type) {
	case 't':
		amqp_buf_put_u8(b, 't');
		amqp_buf_put_u8(b, v->v.b ? 1 : 0);
		break;
	case 'b':
	case 'B':
		amqp_buf_put_u8(b, v->type);
		amqp_buf_put_u8(b, v->type == 'b' ? (uint8_t)v->v.i : (uint8_t)v->v.u);
		break;
	case 's':
	case 'u':
		amqp_buf_put_u8(b, v->type);
		amqp_buf_put_u16(b, v->type == 's' ? (uint16_t)v->v.i : (uint16_t)v->v.u);
		break;
	case 'I':
	case 'i':
		amqp_buf_put_u8(b, v->type);
		amqp_buf_put_u32(b, v->type == 'I' ? (uint32_t)v->v.i : (uint32_t)v->v.u);
		break;
	case 'l':
		amqp_buf_put_value_long(b, v->v.i);
		break;
	case 'L':
		amqp_buf_put_u8(b, 'L');
		amqp_buf_put_u64(b, (uint64_t)v->v.i);
		break;
	case 'T':
		amqp_buf_put_value_timestamp(b, v->v.u);
		break;
	case 'f':
		memcpy(&bits32, &v->v.f, sizeof bits32);
		amqp_buf_put_u8(b, 'f');
		amqp_buf_put_u32(b, bits32);
		break;
	case 'd':
		memcpy(&bits64, &v->v.d, sizeof bits64);
		amqp_buf_put_u8(b, 'd');
		amqp_buf_put_u64(b, bits64);
		break;
	case 'D':
		amqp_buf_put_u8(b, 'D');
		amqp_buf_put_u8(b, v->v.dec.scale);
		amqp_buf_put_u32(b, v->v.dec.value);
		break;
	case 'S':
	case 'x':
		amqp_buf_put_u8(b, v->type);
		amqp_buf_put_longstr(b, v->v.str);
		break;
	case 'A':
	case 'F':
		amqp_buf_put_u8(b, v->type);
		amqp_buf_put_table(b, v->v.table);
		break;
	default: /* 'V', and nothing else can be written safely */
		amqp_buf_put_u8(b, 'V');
		break;
	}
}

void amqp_buf_put_value_longstr(struct amqp_buf *b, struct amqp_str s)
{
	amqp_buf_put_u8(b, 'S');
	amqp_buf_put_longstr(b, s);
}

void amqp_buf_put_value_bool(struct amqp_buf *b, bool v)
{
	amqp_buf_put_u8(b, 't');
	amqp_buf_put_u8(b, v ? 1 : 0);
}

void amqp_buf_put_value_long(struct amqp_buf *b, int64_t v)
{
	amqp_buf_put_u8(b, 'l');
	amqp_buf_put_u64(b, (uint64_t)v);
}

void amqp_buf_put_value_timestamp(struct amqp_buf *b, uint64_t v)
{
	amqp_buf_put_u8(b, 'T');
	amqp_buf_put_u64(b, v);
}

void amqp_buf_put_table(struct amqp_buf *b, struct amqp_table t)
{
	amqp_buf_put_u32(b, t.len);
	amqp_buf_put(b, t.ptr, t.len);
}

void amqp_buf_put_entries_except(struct amqp_buf *b, struct amqp_table t,
				 const char *const *skip)
{
	struct amqp_table_iter it;
	struct amqp_str key;
	struct amqp_value v;

	amqp_table_iter_init(&it, t);
	while (amqp_table_next(&it, &key, &v) == 1) {
		bool skipped = false;
		for (size_t i = 0; skip && skip[i] && !skipped; i++)
			skipped = amqp_str_eq_c(key, skip[i]);
		if (skipped)
			continue;
		amqp_buf_put_shortstr(b, key);
		amqp_buf_put_value(b, &v);
	}
}
