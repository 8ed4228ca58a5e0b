/* broker/exchange/headers_match.c: headers exchange matching and the x-match validation text.
 * Matching walks the binding's pairs and looks each up in the message headers (first occurrence,
 * as RabbitMQ's sorted merge sees it); tables here are a handful of entries, so a linear lookup
 * beats sorting. The 406 text reproduces what RabbitMQ's Erlang `~p` prints for the bad value,
 * checked against RabbitMQ 3.10.8 for strings, byte lists and every scalar type. */
#include "broker/exchange/headers_match.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ---- */

static bool headers_value_is_float(uint8_t type)
{
	return type == 'f' || type == 'd';
}

static double headers_value_float(const struct amqp_value *v)
{
	return v->type == 'f' ? (double)v->v.f : v->v.d;
}

/* Erlang's == on the decoded terms: amqp_value_equal, plus integer == float by value
 * (a binding {a: 1} matches a message {a: 1.0}; checked on RabbitMQ 3.10.8). */
static bool headers_value_equal(const struct amqp_value *a, const struct amqp_value *b)
{
	int64_t i;
	const struct amqp_value *fl = NULL, *in = NULL;

	if (headers_value_is_float(a->type) && amqp_value_as_int(b, &i)) {
		fl = a;
		in = b;
	} else if (headers_value_is_float(b->type) && amqp_value_as_int(a, &i)) {
		fl = b;
		in = a;
	}
	if (fl) {
		double d = headers_value_float(fl);
		if (in->type == 'T' && in->v.u > INT64_MAX)
			return d == (double)in->v.u && d >= 9223372036854775808.0 &&
			       d < 18446744073709551616.0 && (uint64_t)d == in->v.u;
		/* Exact: only integral doubles inside int64 can equal an integer. */
		if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
			return false;
		return (int64_t)d == i;
	}
	return amqp_value_equal(a, b);
}

static bool headers_find(struct amqp_table t, struct amqp_str key, struct amqp_value *val)
{
	struct amqp_table_iter it;
	struct amqp_str k;

	amqp_table_iter_init(&it, t);
	while (amqp_table_next(&it, &k, val) == 1)
		if (amqp_str_eq(k, key))
			return true;
	return false;
}

bool headers_match(enum headers_match_mode mode, struct amqp_table binding_args,
		   struct amqp_table msg_headers)
{
	bool all = mode == HEADERS_MATCH_ALL || mode == HEADERS_MATCH_ALL_WITH_X;
	bool with_x = mode == HEADERS_MATCH_ALL_WITH_X || mode == HEADERS_MATCH_ANY_WITH_X;
	struct amqp_table_iter it;
	struct amqp_str key;
	struct amqp_value want, got;

	amqp_table_iter_init(&it, binding_args);
	while (amqp_table_next(&it, &key, &want) == 1) {
		if (amqp_str_eq_c(key, "x-match"))
			continue;
		if (!with_x && key.len >= 2 && memcmp(key.ptr, "x-", 2) == 0)
			continue;
		bool ok = headers_find(msg_headers, key, &got) &&
			  (want.type == 'V' || headers_value_equal(&want, &got));
		if (all && !ok)
			return false;
		if (!all && ok)
			return true;
	}
	return all; /* all: no pair failed (or none to check); any: none matched */
}

/* ---- the 406 text: Erlang's ~p, as far as RabbitMQ's texts need it ---- */

#define HEADERS_TEXT_CAP 512
#define HEADERS_REPLY_MAX 255

struct headers_text {
	char buf[HEADERS_TEXT_CAP];
	size_t len; /* what would have been written: may pass HEADERS_TEXT_CAP */
};

static void headers_text_put(struct headers_text *t, const char *s, size_t n)
{
	if (t->len < HEADERS_TEXT_CAP) {
		size_t room = HEADERS_TEXT_CAP - t->len;
		memcpy(t->buf + t->len, s, n < room ? n : room);
	}
	t->len += n;
}

static void headers_text_puts(struct headers_text *t, const char *s)
{
	headers_text_put(t, s, strlen(s));
}

static bool headers_text_full(const struct headers_text *t)
{
	return t->len > HEADERS_TEXT_CAP;
}

/* io_lib:printable_latin1_list/1 */
static bool headers_byte_is_printable(uint8_t b)
{
	return (b >= 32 && b <= 126) || b >= 160 || (b >= 8 && b <= 13) || b == 27;
}

/* A binary as ~p prints it: <<"text">> when every byte is printable latin1, else <<1,2,3>>.
 * col is the output column where "<<" starts; byte lists wrap at 80 columns the way the pretty
 * printer fills them (wrap = false prints one line, as for nested values here). */
static void headers_fmt_binary(struct headers_text *t, struct amqp_str s, size_t col, bool wrap)
{
	bool printable = true;
	for (uint32_t i = 0; i < s.len && printable; i++)
		printable = headers_byte_is_printable(s.ptr[i]);
	headers_text_puts(t, "<<");
	if (printable && s.len) {
		headers_text_puts(t, "\"");
		for (uint32_t i = 0; i < s.len && !headers_text_full(t); i++) {
			static const char esc[] = "btnvfr"; /* bytes 8..13 */
			uint8_t b = s.ptr[i];
			char pair[2] = { '\\', 0 };
			if (b == '"' || b == '\\')
				pair[1] = (char)b;
			else if (b >= 8 && b <= 13)
				pair[1] = esc[b - 8];
			else if (b == 27)
				pair[1] = 'e';
			if (pair[1])
				headers_text_put(t, pair, 2);
			else
				headers_text_put(t, (const char *)&b, 1);
		}
		headers_text_puts(t, "\"");
	} else if (!printable) {
		size_t indent = col + 2, c = indent;
		for (uint32_t i = 0; i < s.len && !headers_text_full(t); i++) {
			char num[8];
			bool last = i + 1 == s.len;
			int n = snprintf(num, sizeof num, last ? "%u" : "%u,", s.ptr[i]);
			/* Observed fill: "N," must end by column 79, the last "N" by column 80. */
			if (wrap && c > indent && c + (size_t)n > (last ? 80 : 79)) {
				headers_text_puts(t, "\n");
				for (size_t k = 0; k < indent; k++)
					headers_text_puts(t, " ");
				c = indent;
			}
			headers_text_put(t, num, (size_t)n);
			c += (size_t)n;
		}
	}
	headers_text_puts(t, ">>");
}

/* Erlang/OTP 24+'s ~p for floats: the shortest digits that read back the same, written in fixed
 * notation (100.0, 0.0001, 123456.789) or scientific (1.0e3, 1.2e-4), whichever is shorter;
 * fixed on a tie. Checked against the OTP that runs RabbitMQ 3.10.8. */
static void headers_fmt_float(struct headers_text *t, double d)
{
	char tmp[40], digits[24], fixed[400], sci[40];
	size_t nd = 0;

	if (d == 0) {
		headers_text_puts(t, signbit(d) ? "-0.0" : "0.0");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	const char *p = tmp;
	if (*p == '-') {
		headers_text_puts(t, "-");
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	int exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = 0;

	/* The value is 0.DIGITS x 10^place. */
	int place = exp10 + 1, len = (int)nd;
	size_t n = 0;
	if (place <= 0) {
		n += (size_t)snprintf(fixed, sizeof fixed, "0.");
		for (int i = 0; i < -place; i++)
			fixed[n++] = '0';
		snprintf(fixed + n, sizeof fixed - n, "%s", digits);
	} else if (place >= len) {
		n += (size_t)snprintf(fixed, sizeof fixed, "%s", digits);
		for (int i = 0; i < place - len; i++)
			fixed[n++] = '0';
		snprintf(fixed + n, sizeof fixed - n, ".0");
	} else {
		snprintf(fixed, sizeof fixed, "%.*s.%s", place, digits, digits + place);
	}
	snprintf(sci, sizeof sci, "%c.%se%d", digits[0], len == 1 ? "0" : digits + 1, exp10);
	headers_text_puts(t, strlen(sci) < strlen(fixed) ? sci : fixed);
}

static void headers_fmt_value(struct headers_text *t, const struct amqp_value *v, size_t col,
			      bool wrap);

/* Tables print as [{<<"key">>,type,value},...], arrays as [{type,value},...]. */
static void headers_fmt_list(struct headers_text *t, const struct amqp_value *v)
{
	struct amqp_table_iter it;
	struct amqp_str key;
	struct amqp_value item;
	bool first = true;
	int r;

	headers_text_puts(t, "[");
	if (v->type == 'F')
		amqp_table_iter_init(&it, v->v.table);
	else
		amqp_array_iter_init(&it, v->v.table);
	for (;;) {
		if (headers_text_full(t))
			break;
		if (v->type == 'F')
			r = amqp_table_next(&it, &key, &item);
		else
			r = amqp_array_next(&it, &item);
		if (r != 1)
			break;
		headers_text_puts(t, first ? "{" : ",{");
		first = false;
		if (v->type == 'F') {
			headers_fmt_binary(t, key, 0, false);
			headers_text_puts(t, ",");
		}
		headers_text_puts(t, amqp_value_type_name(item.type));
		headers_text_puts(t, ",");
		headers_fmt_value(t, &item, 0, false);
		headers_text_puts(t, "}");
	}
	headers_text_puts(t, "]");
}

static void headers_fmt_value(struct headers_text *t, const struct amqp_value *v, size_t col,
			      bool wrap)
{
	char num[48];

	switch (v->type) {
	case 't':
		headers_text_puts(t, v->v.b ? "true" : "false");
		return;
	case 'b':
	case 's':
	case 'I':
	case 'l':
		snprintf(num, sizeof num, "%lld", (long long)v->v.i);
		headers_text_puts(t, num);
		return;
	case 'B':
	case 'u':
	case 'i':
	case 'T':
		snprintf(num, sizeof num, "%llu", (unsigned long long)v->v.u);
		headers_text_puts(t, num);
		return;
	case 'f':
	case 'd':
		headers_fmt_float(t, headers_value_float(v));
		return;
	case 'D':
		snprintf(num, sizeof num, "{%u,%u}", v->v.dec.scale, v->v.dec.value);
		headers_text_puts(t, num);
		return;
	case 'S':
	case 'x':
		headers_fmt_binary(t, v->v.str, col, wrap);
		return;
	case 'F':
	case 'A':
		headers_fmt_list(t, v);
		return;
	case 'V':
	default:
		headers_text_puts(t, "undefined");
		return;
	}
}

int headers_match_format_error(const struct amqp_value *xmatch, char *buf, size_t cap)
{
	static const char prefix[] = "PRECONDITION_FAILED - ";
	static const char value_head[] = "Invalid x-match field value ";
	struct headers_text text = { .len = 0 }, *t = &text;

	headers_text_puts(t, prefix);
	if (xmatch->type == 'S') {
		headers_text_puts(t, value_head);
		headers_fmt_value(t, xmatch, sizeof value_head - 1, true);
		headers_text_puts(t, "; expected all, any, all-with-x, or any-with-x");
	} else {
		headers_text_puts(t, "Invalid x-match field type ");
		headers_text_puts(t, amqp_value_type_name(xmatch->type));
		headers_text_puts(t, " (value ");
		headers_fmt_value(t, xmatch, 0, false);
		headers_text_puts(t, "); expected longstr");
	}
	if (t->len > HEADERS_REPLY_MAX) { /* RabbitMQ keeps 252 bytes and adds "..." */
		memcpy(t->buf + HEADERS_REPLY_MAX - 3, "...", 3);
		t->len = HEADERS_REPLY_MAX;
	}
	/* channel_fail() writes the prefix itself. */
	size_t skip = sizeof prefix - 1;
	return snprintf(buf, cap, "%.*s", (int)(t->len - skip), t->buf + skip);
}

int headers_match_mode_parse(struct amqp_table binding_args, enum headers_match_mode *mode,
			     char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum headers_match_mode mode;
	} modes[] = {
		{ "all", HEADERS_MATCH_ALL },
		{ "any", HEADERS_MATCH_ANY },
		{ "all-with-x", HEADERS_MATCH_ALL_WITH_X },
		{ "any-with-x", HEADERS_MATCH_ANY_WITH_X },
	};
	struct amqp_value v;

	*mode = HEADERS_MATCH_ALL;
	if (!headers_find(binding_args, AMQP_STR_LIT("x-match"), &v))
		return 0;
	if (v.type == 'S') {
		for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
			if (amqp_str_eq_c(v.v.str, modes[i].name)) {
				*mode = modes[i].mode;
				return 0;
			}
		}
	}
	if (err && errlen)
		headers_match_format_error(&v, err, errlen);
	return -1;
}
