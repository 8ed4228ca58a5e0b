/* tests/unit/broker/test_headers_match.c: broker/headers_match.c against RabbitMQ 3.10.8's
 * observed headers-exchange behaviour (shared/reference/rabbitmq-semantics.md section 8, plus
 * what the dev broker answered for void values, nested tables, numbers and bad x-match values:
 * the expected 406 texts below are RabbitMQ's own replies, captured byte for byte). */
#include "broker/exchange/headers_match.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building tables ---- */

#define MAX_BUFS 1024
static struct amqp_buf bufs[MAX_BUFS];
static int buf_count;

static void setup(void)
{
	buf_count = 0;
}

static void teardown(void)
{
	for (int i = 0; i < buf_count; i++)
		amqp_buf_free(&bufs[i]);
	buf_count = 0;
}

static struct amqp_buf *buf_new(void)
{
	ck_assert_int_lt(buf_count, MAX_BUFS);
	struct amqp_buf *b = &bufs[buf_count++];
	amqp_buf_init(b);
	return b;
}

static struct amqp_value val_str(const char *s, size_t len, uint8_t type)
{
	struct amqp_value v = { .type = type };
	v.v.str = (struct amqp_str){ (const uint8_t *)s, (uint32_t)len };
	return v;
}

static struct amqp_value val_int(uint8_t type, int64_t i)
{
	struct amqp_value v = { .type = type };
	v.v.i = i;
	return v;
}

static struct amqp_value val_uint(uint8_t type, uint64_t u)
{
	struct amqp_value v = { .type = type };
	v.v.u = u;
	return v;
}

static struct amqp_value val_double(double d)
{
	struct amqp_value v = { .type = 'd' };
	v.v.d = d;
	return v;
}

static struct amqp_value val_float(float f)
{
	struct amqp_value v = { .type = 'f' };
	v.v.f = f;
	return v;
}

static struct amqp_value val_bool(bool b)
{
	struct amqp_value v = { .type = 't' };
	v.v.b = b;
	return v;
}

static struct amqp_value val_decimal(uint8_t scale, uint32_t value)
{
	struct amqp_value v = { .type = 'D' };
	v.v.dec = (struct amqp_decimal){ scale, value };
	return v;
}

static struct amqp_value val_nested(uint8_t type, const struct amqp_buf *b)
{
	struct amqp_value v = { .type = type };
	v.v.table = (struct amqp_table){ b->data, (uint32_t)b->len };
	return v;
}

#define VSTR(s) val_str((s), strlen(s), 'S')
#define VBYTES(type, s, n) val_str((s), (n), (type))
#define VINT(type, i) val_int((type), (i))
#define VUINT(type, u) val_uint((type), (u))
#define VDBL(d) val_double(d)
#define VFLT(f) val_float(f)
#define VBOOL(b) val_bool(b)
#define VVOID() ((struct amqp_value){ .type = 'V' })
#define VDEC(s, v) val_decimal((s), (v))

static void put(struct amqp_buf *b, const char *key, struct amqp_value v)
{
	amqp_buf_put_shortstr(b, amqp_str_c(key));
	amqp_buf_put_value(b, &v);
}

static struct amqp_table table_of(const struct amqp_buf *b)
{
	ck_assert(!b->oom);
	ck_assert_int_eq(amqp_table_validate(b->data, b->len), 0);
	return (struct amqp_table){ b->data, (uint32_t)b->len };
}

/* A table with one pair. */
static struct amqp_table one(const char *key, struct amqp_value v)
{
	struct amqp_buf *b = buf_new();
	put(b, key, v);
	return table_of(b);
}

static const struct amqp_table empty_table = { NULL, 0 };

static enum headers_match_mode mode_of(struct amqp_table args)
{
	enum headers_match_mode m;
	char err[HEADERS_MATCH_ERR_MAX];
	ck_assert_int_eq(headers_match_mode_parse(args, &m, err, sizeof err), 0);
	return m;
}

/* Does a binding with args route a message with headers? (the mode comes from args) */
static bool routes(struct amqp_table args, struct amqp_table headers)
{
	return headers_match(mode_of(args), args, headers);
}

/* ---- x-match parsing ---- */

static char ones[61];
#define ONES ones
static char repeat_y300[301];
#define REPEAT_Y300 repeat_y300
static char mixed[121];
#define MIXED mixed

static void fill_long_values(void)
{
	memset(repeat_y300, 'y', 300);
	memset(ones, 1, 60);
	for (int i = 0; i < 30; i++)
		memcpy(mixed + 4 * i, "ab\177c", 4);
}

struct bad_case {
	const char *name;
	struct amqp_value value;
	const char *text;
};

START_TEST(a_bad_x_match_gives_rabbitmqs_exact_406_text)
{
	fill_long_values();
	const struct bad_case cases[] = {
	{ "bogus", VSTR("bogus"),
	  "PRECONDITION_FAILED - Invalid x-match field value <<\"bogus\">>; expected all, a"
		  "ny, all-with-x, or any-with-x" },
	{ "int", VINT('I', 123),
	  "PRECONDITION_FAILED - Invalid x-match field type signedint (value 123); expected"
		  " longstr" },
	{ "bool", VBOOL(true),
	  "PRECONDITION_FAILED - Invalid x-match field type bool (value true); expected lon"
		  "gstr" },
	{ "void", VVOID(),
	  "PRECONDITION_FAILED - Invalid x-match field type void (value undefined); expecte"
		  "d longstr" },
	{ "upper", VSTR("ALL"),
	  "PRECONDITION_FAILED - Invalid x-match field value <<\"ALL\">>; expected all, any"
		  ", all-with-x, or any-with-x" },
	{ "empty", VSTR(""),
	  "PRECONDITION_FAILED - Invalid x-match field value <<>>; expected all, any, all-w"
		  "ith-x, or any-with-x" },
	{ "double", VDBL(1.5),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 1.5); expected lo"
		  "ngstr" },
	{ "quote", VSTR("a\"b\\c"),
	  "PRECONDITION_FAILED - Invalid x-match field value <<\"a\\\"b\\\\c\">>; expected "
		  "all, any, all-with-x, or any-with-x" },
	{ "latin", VSTR("caf\303\251"),
	  "PRECONDITION_FAILED - Invalid x-match field value <<\"caf\303\251\">>; expected "
		  "all, any, all-with-x, or any-with-x" },
	{ "long", VINT('l', 1099511627776),
	  "PRECONDITION_FAILED - Invalid x-match field type long (value 1099511627776); exp"
		  "ected longstr" },
	{ "negative", VINT('I', -5),
	  "PRECONDITION_FAILED - Invalid x-match field type signedint (value -5); expected "
		  "longstr" },
	{ "decimal", VDEC(2, 125),
	  "PRECONDITION_FAILED - Invalid x-match field type decimal (value {2,125}); expect"
		  "ed longstr" },
	{ "timestamp", VUINT('T', 1577836800),
	  "PRECONDITION_FAILED - Invalid x-match field type timestamp (value 1577836800); e"
		  "xpected longstr" },
	{ "newline", VSTR("a\nb"),
	  "PRECONDITION_FAILED - Invalid x-match field value <<\"a\\nb\">>; expected all, a"
		  "ny, all-with-x, or any-with-x" },
	{ "euro", VSTR("\342\202\254"),
	  "PRECONDITION_FAILED - Invalid x-match field value <<226,130,172>>; expected all,"
		  " any, all-with-x, or any-with-x" },
	{ "nul", VBYTES('S', "ab\0", 3),
	  "PRECONDITION_FAILED - Invalid x-match field value <<97,98,0>>; expected all, any"
		  ", all-with-x, or any-with-x" },
	{ "del", VSTR("a\177"),
	  "PRECONDITION_FAILED - Invalid x-match field value <<97,127>>; expected all, any,"
		  " all-with-x, or any-with-x" },
	{ "escape", VSTR("a\033"),
	  "PRECONDITION_FAILED - Invalid x-match field value <<\"a\\e\">>; expected all, an"
		  "y, all-with-x, or any-with-x" },
	{ "long_text", VSTR(REPEAT_Y300),
	  "PRECONDITION_FAILED - Invalid x-match field value <<\"yyyyyyyyyyyyyyyyyyyyyyyyyy"
		  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
		  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
		  "yyyyyyyyyyyyy..." },
	{ "controls", VSTR("\r\v\b\f"),
	  "PRECONDITION_FAILED - Invalid x-match field value <<\"\\r\\v\\b\\f\">>; expected"
		  " all, any, all-with-x, or any-with-x" },
	{ "ones", VBYTES('S', ONES, 60),
	  "PRECONDITION_FAILED - Invalid x-match field value <<1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
		  "1,1,1,1,1,1,1,1,1,1,\012                              1,1,1,1,1,1,1,1,1,1,1,1,1,"
		  "1,1,1,1,1,1,1,1,1,1,1,\012                              1,1,1,1,1,1,1,1,1,1,1,1>"
		  ">; expected all, a..." },
	{ "mixed", VSTR(MIXED),
	  "PRECONDITION_FAILED - Invalid x-match field value <<97,98,127,99,97,98,127,99,97"
		  ",98,127,99,97,98,127,\012                              99,97,98,127,99,97,98,127"
		  ",99,97,98,127,99,97,98,\012                              127,99,97,98,127,99,97,"
		  "98,127,99,97,98,12..." },
	{ "ones_short", VBYTES('S', ONES, 24),
	  "PRECONDITION_FAILED - Invalid x-match field value <<1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
		  "1,1,1,1,1,1,1,1,1,1>>; expected all, any, all-with-x, or any-with-x" },
	{ "ones_25", VBYTES('S', ONES, 25),
	  "PRECONDITION_FAILED - Invalid x-match field value <<1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
		  "1,1,1,1,1,1,1,1,1,1,1>>; expected all, any, all-with-x, or any-with-x" },
	{ "ones_26", VBYTES('S', ONES, 26),
	  "PRECONDITION_FAILED - Invalid x-match field value <<1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
		  "1,1,1,1,1,1,1,1,1,1,\012                              1,1>>; expected all, any, "
		  "all-with-x, or any-with-x" },
	{ "f01", VDBL(0.1),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 0.1); expected lo"
		  "ngstr" },
	{ "f1e20", VDBL(1e20),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 1.0e20); expected"
		  " longstr" },
	{ "f1e21", VDBL(1e21),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 1.0e21); expected"
		  " longstr" },
	{ "f1em5", VDBL(1e-5),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 1.0e-5); expected"
		  " longstr" },
	{ "f0001", VDBL(0.001),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 0.001); expected "
		  "longstr" },
	{ "f100", VDBL(100.0),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 100.0); expected "
		  "longstr" },
	{ "fneg0", VDBL(-0.0),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value -0.0); expected l"
		  "ongstr" },
	{ "f123", VDBL(123456.789),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 123456.789); expe"
		  "cted longstr" },
	{ "f1e22", VDBL(1e22),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 1.0e22); expected"
		  " longstr" },
	{ "f12e20", VDBL(1.2e21),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 1.2e21); expected"
		  " longstr" },
	{ "fpi", VDBL(3.141592653589793),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 3.141592653589793"
		  "); expected longstr" },
	{ "f1e15", VDBL(1e15),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 1.0e15); expected"
		  " longstr" },
	{ "f123e18", VDBL(123e18),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 1.23e20); expecte"
		  "d longstr" },
	{ "f1em4", VDBL(1e-4),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 0.0001); expected"
		  " longstr" },
	{ "fbig", VDBL(1.7976931348623157e308),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 1.797693134862315"
		  "7e308); expected longstr" },
	{ "ftiny", VDBL(5e-324),
	  "PRECONDITION_FAILED - Invalid x-match field type double (value 5.0e-324); expect"
		  "ed longstr" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[HEADERS_MATCH_ERR_MAX];
		enum headers_match_mode m = HEADERS_MATCH_ANY;
		struct amqp_buf *b = buf_new();
		put(b, "x-match", cases[i].value);
		put(b, "a", VSTR("1"));
		char reply[512];
		ck_assert_msg(headers_match_mode_parse(table_of(b), &m, err, sizeof err) == -1,
			      "case %s accepted", cases[i].name);
		/* What channel_fail(ch, 406, "%s", err) sends. */
		snprintf(reply, sizeof reply, "PRECONDITION_FAILED - %s", err);
		ck_assert_msg(strcmp(reply, cases[i].text) == 0, "case %s:\n got  %s\n want %s",
			      cases[i].name, reply, cases[i].text);
		ck_assert_uint_le(strlen(reply), 255);
		teardown();
	}
}
END_TEST

START_TEST(a_binary_typed_x_match_is_a_type_error_even_when_it_spells_all)
{
	/* pika sends bytes as 'x': RabbitMQ answered with this text. */
	char err[HEADERS_MATCH_ERR_MAX];
	enum headers_match_mode m;
	ck_assert_int_eq(headers_match_mode_parse(one("x-match", VBYTES('x', "all", 3)), &m, err,
						  sizeof err), -1);
	ck_assert_str_eq(err, "Invalid x-match field type binary (value <<\"all\">>); expected "
			      "longstr");
}
END_TEST

START_TEST(the_error_helper_fits_a_short_buffer_like_snprintf)
{
	char small[16];
	struct amqp_value v = VSTR("bogus");
	int n = headers_match_format_error(&v, small, sizeof small);
	ck_assert_int_eq(n, (int)strlen("Invalid x-match field value <<\"bogus\">>; expected "
					"all, any, all-with-x, or any-with-x"));
	ck_assert_str_eq(small, "Invalid x-match");
}
END_TEST

START_TEST(x_match_parses_the_four_modes_and_defaults_to_all)
{
	ck_assert_int_eq(mode_of(empty_table), HEADERS_MATCH_ALL);
	ck_assert_int_eq(mode_of(one("a", VSTR("1"))), HEADERS_MATCH_ALL);
	ck_assert_int_eq(mode_of(one("x-match", VSTR("all"))), HEADERS_MATCH_ALL);
	ck_assert_int_eq(mode_of(one("x-match", VSTR("any"))), HEADERS_MATCH_ANY);
	ck_assert_int_eq(mode_of(one("x-match", VSTR("all-with-x"))), HEADERS_MATCH_ALL_WITH_X);
	ck_assert_int_eq(mode_of(one("x-match", VSTR("any-with-x"))), HEADERS_MATCH_ANY_WITH_X);
	/* "x-match " is another key: RabbitMQ accepted {x-match: any, "x-match ": x}. */
	struct amqp_buf *b = buf_new();
	put(b, "x-match", VSTR("any"));
	put(b, "x-match ", VSTR("x"));
	ck_assert_int_eq(mode_of(table_of(b)), HEADERS_MATCH_ANY);
}
END_TEST

/* ---- all and any ---- */

START_TEST(all_needs_every_pair_present_and_equal)
{
	struct amqp_buf *args = buf_new(), *h1 = buf_new(), *h2 = buf_new(), *h3 = buf_new();
	put(args, "x-match", VSTR("all"));
	put(args, "a", VSTR("1"));
	put(args, "b", VSTR("2"));
	put(h1, "b", VSTR("2"));
	put(h1, "a", VSTR("1"));
	put(h2, "a", VSTR("1"));
	put(h3, "a", VSTR("1"));
	put(h3, "b", VSTR("3"));
	ck_assert(routes(table_of(args), table_of(h1)));
	ck_assert(!routes(table_of(args), table_of(h2)));
	ck_assert(!routes(table_of(args), table_of(h3)));
	ck_assert(!routes(table_of(args), empty_table));
}
END_TEST

START_TEST(all_is_the_default_without_x_match)
{
	struct amqp_buf *args = buf_new(), *h = buf_new();
	put(args, "a", VSTR("1"));
	put(args, "b", VSTR("2"));
	put(h, "a", VSTR("1"));
	ck_assert(!routes(table_of(args), table_of(h)));
	put(h, "b", VSTR("2"));
	ck_assert(routes(table_of(args), table_of(h)));
}
END_TEST

START_TEST(any_needs_one_pair_present_and_equal)
{
	struct amqp_buf *args = buf_new(), *h1 = buf_new(), *h2 = buf_new();
	put(args, "x-match", VSTR("any"));
	put(args, "a", VSTR("1"));
	put(args, "b", VSTR("2"));
	put(h1, "b", VSTR("2"));
	put(h2, "a", VSTR("9"));
	put(h2, "b", VSTR("9"));
	ck_assert(routes(table_of(args), table_of(h1)));
	ck_assert(!routes(table_of(args), table_of(h2)));
	ck_assert(!routes(table_of(args), empty_table));
}
END_TEST

START_TEST(all_with_no_pairs_matches_every_message_even_one_without_headers)
{
	struct amqp_buf *args = buf_new();
	put(args, "x-match", VSTR("all"));
	put(args, "x-k", VSTR("v"));
	ck_assert(routes(table_of(args), empty_table));
	ck_assert(routes(table_of(args), one("a", VSTR("1"))));
	ck_assert(routes(empty_table, empty_table));
	ck_assert(routes(one("x-match", VSTR("all-with-x")), empty_table));
}
END_TEST

START_TEST(any_with_no_pairs_matches_nothing)
{
	ck_assert(!routes(one("x-match", VSTR("any")), empty_table));
	ck_assert(!routes(one("x-match", VSTR("any")), one("a", VSTR("1"))));
	ck_assert(!routes(one("x-match", VSTR("any-with-x")), one("x-match", VSTR("any-with-x"))));
}
END_TEST

START_TEST(x_keys_are_ignored_under_all_and_any)
{
	struct amqp_buf *args = buf_new(), *h = buf_new();
	put(args, "x-match", VSTR("any"));
	put(args, "x-k", VSTR("v"));
	put(args, "a", VINT('I', 1));
	put(h, "x-k", VSTR("v"));
	ck_assert(!routes(table_of(args), table_of(h))); /* x-k=v alone does not count */
	ck_assert(routes(table_of(args), one("a", VINT('I', 1))));

	struct amqp_buf *all = buf_new();
	put(all, "x-k", VSTR("v"));
	put(all, "a", VINT('I', 1));
	ck_assert(routes(table_of(all), one("a", VINT('I', 1)))); /* x-k missing: fine */
}
END_TEST

START_TEST(with_x_modes_compare_x_keys_too_but_never_x_match)
{
	struct amqp_buf *args = buf_new(), *both = buf_new();
	put(args, "x-match", VSTR("all-with-x"));
	put(args, "a", VINT('I', 1));
	put(args, "x-k", VSTR("v"));
	put(both, "a", VINT('I', 1));
	put(both, "x-k", VSTR("v"));
	ck_assert(routes(table_of(args), table_of(both)));
	ck_assert(!routes(table_of(args), one("a", VINT('I', 1))));
	ck_assert(!routes(table_of(args), one("x-k", VSTR("v"))));

	struct amqp_buf *any = buf_new();
	put(any, "x-match", VSTR("any-with-x"));
	put(any, "x-k", VSTR("v"));
	ck_assert(routes(table_of(any), one("x-k", VSTR("v"))));
	ck_assert(!routes(table_of(any), one("x-k", VSTR("w"))));

	/* The binding's x-match is not a pair: a message without x-match still matches. */
	struct amqp_buf *x2 = buf_new();
	put(x2, "x-match", VSTR("all-with-x"));
	put(x2, "x-match2", VSTR("q"));
	ck_assert(routes(table_of(x2), one("x-match2", VSTR("q"))));
}
END_TEST

START_TEST(extra_message_headers_are_ignored)
{
	struct amqp_buf *h = buf_new();
	put(h, "z", VSTR("other"));
	put(h, "a", VSTR("1"));
	put(h, "x-extra", VBOOL(true));
	ck_assert(routes(one("a", VSTR("1")), table_of(h)));
}
END_TEST

/* ---- values ---- */

START_TEST(a_void_binding_value_only_asks_for_the_header_to_be_present)
{
	struct amqp_table args = one("a", VVOID());
	ck_assert(routes(args, one("a", VVOID())));
	ck_assert(routes(args, one("a", VINT('I', 1))));
	ck_assert(routes(args, one("a", VSTR("anything"))));
	ck_assert(routes(args, one("a", VBOOL(false))));
	ck_assert(!routes(args, one("b", VINT('I', 1))));
	ck_assert(!routes(args, empty_table));

	struct amqp_buf *any = buf_new();
	put(any, "x-match", VSTR("any"));
	put(any, "a", VVOID());
	put(any, "zz", VSTR("nope"));
	ck_assert(routes(table_of(any), one("a", VDBL(1.0))));
	ck_assert(!routes(table_of(any), one("b", VDBL(1.0))));
}
END_TEST

START_TEST(a_void_message_header_does_not_equal_a_concrete_binding_value)
{
	ck_assert(!routes(one("a", VINT('I', 1)), one("a", VVOID())));
	ck_assert(!routes(one("a", VSTR("")), one("a", VVOID())));
}
END_TEST

START_TEST(integers_of_any_width_and_timestamps_compare_by_value)
{
	static const uint8_t signed_types[] = { 'b', 's', 'I', 'l' };
	static const uint8_t unsigned_types[] = { 'B', 'u', 'i', 'T' };
	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < 4; j++) {
			ck_assert(routes(one("a", VINT(signed_types[i], 1)),
					 one("a", VUINT(unsigned_types[j], 1))));
			ck_assert(routes(one("a", VUINT(unsigned_types[j], 7)),
					 one("a", VINT(signed_types[i], 7))));
			ck_assert(routes(one("a", VINT(signed_types[i], -1)),
					 one("a", VINT(signed_types[j], -1))));
			ck_assert(!routes(one("a", VINT(signed_types[i], -1)),
					  one("a", VUINT(unsigned_types[j], 255))));
		}
	}
	ck_assert(routes(one("a", VINT('l', 1099511627776)), one("a", VUINT('T', 1099511627776))));
}
END_TEST

START_TEST(an_integer_equals_a_float_of_the_same_value)
{
	/* Verified: bindings {a: 1} and {a: 1.0} both routed messages {a: 1}, {a: 1 long}, {a: 1.0}
	 * and {a: timestamp 1}. */
	ck_assert(routes(one("a", VINT('I', 1)), one("a", VDBL(1.0))));
	ck_assert(routes(one("a", VDBL(1.0)), one("a", VINT('I', 1))));
	ck_assert(routes(one("a", VDBL(1.0)), one("a", VUINT('T', 1))));
	ck_assert(routes(one("a", VFLT(2.0f)), one("a", VINT('b', 2))));
	ck_assert(routes(one("a", VFLT(1.5f)), one("a", VDBL(1.5))));
	ck_assert(!routes(one("a", VINT('I', 1)), one("a", VDBL(1.5))));
	ck_assert(!routes(one("a", VINT('l', INT64_MAX)), one("a", VDBL(9.3e18))));
	ck_assert(!routes(one("a", VINT('I', 1)), one("a", VDBL(1e300))));
}
END_TEST

START_TEST(a_string_never_equals_a_number)
{
	ck_assert(!routes(one("a", VSTR("1")), one("a", VINT('I', 1))));
	ck_assert(!routes(one("a", VINT('I', 1)), one("a", VSTR("1"))));
	ck_assert(!routes(one("a", VBOOL(true)), one("a", VINT('I', 1))));
	ck_assert(!routes(one("a", VINT('I', 1)), one("a", VBOOL(true))));
}
END_TEST

START_TEST(longstr_and_byte_array_with_the_same_bytes_are_equal)
{
	ck_assert(routes(one("a", VSTR("1")), one("a", VBYTES('x', "1", 1))));
	ck_assert(routes(one("a", VBYTES('x', "1", 1)), one("a", VSTR("1"))));
	ck_assert(!routes(one("a", VSTR("1")), one("a", VSTR("10"))));
	ck_assert(routes(one("a", VBYTES('S', "a\0b", 3)), one("a", VBYTES('S', "a\0b", 3))));
}
END_TEST

START_TEST(booleans_and_decimals_compare_exactly)
{
	ck_assert(routes(one("a", VBOOL(true)), one("a", VBOOL(true))));
	ck_assert(!routes(one("a", VBOOL(true)), one("a", VBOOL(false))));
	/* Verified: decimal 1.0 (scale 1, value 10) did not match decimal 1 (scale 0, value 1). */
	ck_assert(routes(one("a", VDEC(1, 10)), one("a", VDEC(1, 10))));
	ck_assert(!routes(one("a", VDEC(1, 10)), one("a", VDEC(0, 1))));
}
END_TEST

START_TEST(nested_tables_match_only_with_the_same_types_and_key_order)
{
	struct amqp_buf *inner = buf_new(), *inner_long = buf_new(), *fwd = buf_new(),
			*rev = buf_new();
	put(inner, "k", VINT('I', 1));
	put(inner_long, "k", VINT('l', 1));
	put(fwd, "k", VINT('I', 1));
	put(fwd, "j", VINT('I', 2));
	put(rev, "j", VINT('I', 2));
	put(rev, "k", VINT('I', 1));
	struct amqp_table args = one("a", val_nested('F', inner));
	ck_assert(routes(args, one("a", val_nested('F', inner))));
	ck_assert(!routes(args, one("a", val_nested('F', inner_long))));
	struct amqp_table ordered = one("a", val_nested('F', fwd));
	ck_assert(routes(ordered, one("a", val_nested('F', fwd))));
	ck_assert(!routes(ordered, one("a", val_nested('F', rev))));
}
END_TEST

START_TEST(arrays_match_element_for_element)
{
	struct amqp_buf *arr = buf_new(), *arr2 = buf_new();
	struct amqp_value v1 = VINT('I', 1), v2 = VINT('I', 2);
	amqp_buf_put_value(arr, &v1);
	amqp_buf_put_value(arr, &v2);
	amqp_buf_put_value(arr2, &v2);
	amqp_buf_put_value(arr2, &v1);
	struct amqp_table args = one("a", val_nested('A', arr));
	ck_assert(routes(args, one("a", val_nested('A', arr))));
	ck_assert(!routes(args, one("a", val_nested('A', arr2))));
	ck_assert(!routes(args, one("a", VINT('I', 1))));
}
END_TEST

START_TEST(a_key_is_compared_byte_for_byte)
{
	ck_assert(!routes(one("A", VSTR("1")), one("a", VSTR("1"))));
	ck_assert(!routes(one("a", VSTR("1")), one("a ", VSTR("1"))));
	ck_assert(routes(one("", VSTR("1")), one("", VSTR("1"))));
}
END_TEST

static Suite *headers_match_suite(void)
{
	Suite *s = suite_create("headers_match");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_bad_x_match_gives_rabbitmqs_exact_406_text);
	tcase_add_test(tc, a_binary_typed_x_match_is_a_type_error_even_when_it_spells_all);
	tcase_add_test(tc, the_error_helper_fits_a_short_buffer_like_snprintf);
	tcase_add_test(tc, x_match_parses_the_four_modes_and_defaults_to_all);
	tcase_add_test(tc, all_needs_every_pair_present_and_equal);
	tcase_add_test(tc, all_is_the_default_without_x_match);
	tcase_add_test(tc, any_needs_one_pair_present_and_equal);
	tcase_add_test(tc, all_with_no_pairs_matches_every_message_even_one_without_headers);
	tcase_add_test(tc, any_with_no_pairs_matches_nothing);
	tcase_add_test(tc, x_keys_are_ignored_under_all_and_any);
	tcase_add_test(tc, with_x_modes_compare_x_keys_too_but_never_x_match);
	tcase_add_test(tc, extra_message_headers_are_ignored);
	tcase_add_test(tc, a_void_binding_value_only_asks_for_the_header_to_be_present);
	tcase_add_test(tc, a_void_message_header_does_not_equal_a_concrete_binding_value);
	tcase_add_test(tc, integers_of_any_width_and_timestamps_compare_by_value);
	tcase_add_test(tc, an_integer_equals_a_float_of_the_same_value);
	tcase_add_test(tc, a_string_never_equals_a_number);
	tcase_add_test(tc, longstr_and_byte_array_with_the_same_bytes_are_equal);
	tcase_add_test(tc, booleans_and_decimals_compare_exactly);
	tcase_add_test(tc, nested_tables_match_only_with_the_same_types_and_key_order);
	tcase_add_test(tc, arrays_match_element_for_element);
	tcase_add_test(tc, a_key_is_compared_byte_for_byte);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(headers_match_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
