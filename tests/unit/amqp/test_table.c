/* tests/unit/amqp/test_table.c: field tables and arrays (amqp/table.c): every type read from
 * hand-written bytes, round trips through struct amqp_buf, malformed input, type names,
 * equality and formatting as RabbitMQ's error texts need them. */
#include <check.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/table.h"

/* One entry of every type, written by hand. */
static const uint8_t every_type[] = {
	1, 't', 't', 1,
	1, 'b', 'b', 0xfe,                      /* -2 */
	1, 'B', 'B', 0xfe,                      /* 254 */
	1, 's', 's', 0xff, 0xfd,                /* -3 */
	1, 'u', 'u', 0xff, 0xfd,                /* 65533 */
	1, 'I', 'I', 0xff, 0xff, 0xff, 0xfc,    /* -4 */
	1, 'i', 'i', 0xff, 0xff, 0xff, 0xfc,    /* 4294967292 */
	1, 'l', 'l', 0x80, 0, 0, 0, 0, 0, 0, 0, /* INT64_MIN */
	1, 'f', 'f', 0x3f, 0xc0, 0, 0,          /* 1.5f */
	1, 'd', 'd', 0xc0, 0x04, 0, 0, 0, 0, 0, 0, /* -2.5 */
	1, 'D', 'D', 2, 0, 0, 0x30, 0x39,       /* 123.45 */
	1, 'S', 'S', 0, 0, 0, 3, 'a', 'b', 'c',
	1, 'A', 'A', 0, 0, 0, 4, 'b', 1, 'b', 2,
	1, 'T', 'T', 0, 0, 0, 0, 0x5f, 0x5e, 0x10, 0x00,
	1, 'F', 'F', 0, 0, 0, 3, 1, 'k', 'V',   /* {k: void} */
	1, 'V', 'V',
	1, 'x', 'x', 0, 0, 0, 2, 0x00, 0xff,
	0, 'V', /* empty key: RabbitMQ accepts it */
};

START_TEST(every_type_decodes_from_hand_written_bytes)
{
	struct amqp_table t = { every_type, sizeof every_type };
	struct amqp_table_iter it;
	struct amqp_str key;
	struct amqp_value v;
	int64_t n;

	ck_assert_int_eq(amqp_table_validate(t.ptr, t.len), 0);
	ck_assert_uint_eq(amqp_table_count(t), 18);

	amqp_table_iter_init(&it, t);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert(amqp_str_eq_c(key, "t") && v.type == 't' && v.v.b);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_int_eq(v.v.i, -2);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_uint_eq(v.v.u, 254);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_int_eq(v.v.i, -3);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_uint_eq(v.v.u, 65533);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_int_eq(v.v.i, -4);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_uint_eq(v.v.u, 4294967292u);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_int_eq(v.v.i, INT64_MIN);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_float_eq(v.v.f, 1.5f);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_double_eq(v.v.d, -2.5);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_uint_eq(v.v.dec.scale, 2);
	ck_assert_uint_eq(v.v.dec.value, 12345);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert(amqp_str_eq_c(v.v.str, "abc"));
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_uint_eq(v.type, 'A');
	ck_assert_uint_eq(v.v.table.len, 4);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_uint_eq(v.type, 'T');
	ck_assert_uint_eq(v.v.u, 1600000000u);
	ck_assert(amqp_value_as_int(&v, &n));
	ck_assert_int_eq(n, 1600000000);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_uint_eq(v.type, 'F');
	ck_assert_uint_eq(amqp_table_count(v.v.table), 1);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_uint_eq(v.type, 'V');
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_uint_eq(v.type, 'x');
	ck_assert_uint_eq(v.v.str.len, 2);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 1);
	ck_assert_uint_eq(key.len, 0);
	ck_assert_int_eq(amqp_table_next(&it, &key, &v), 0);
}
END_TEST

/* Builds a table with one value of every type through the writer API. */
static void build_every_type(struct amqp_buf *b, size_t *entry_ends, size_t *n_entries)
{
	static const uint8_t inner[] = { 1, 'k', 't', 0 };
	static const uint8_t arr[] = { 'I', 0, 0, 0, 5, 'S', 0, 0, 0, 1, 'z' };
	struct amqp_value vals[] = {
		{ .type = 't', .v.b = true },
		{ .type = 'b', .v.i = -100 },
		{ .type = 'B', .v.u = 200 },
		{ .type = 's', .v.i = -30000 },
		{ .type = 'u', .v.u = 60000 },
		{ .type = 'I', .v.i = -2000000000 },
		{ .type = 'i', .v.u = 4000000000u },
		{ .type = 'l', .v.i = -9000000000000000000 },
		{ .type = 'f', .v.f = 0.25f },
		{ .type = 'd', .v.d = 1e300 },
		{ .type = 'D', .v.dec = { 3, 1234567 } },
		{ .type = 'S', .v.str = AMQP_STR_LIT("long string") },
		{ .type = 'A', .v.table = { arr, sizeof arr } },
		{ .type = 'T', .v.u = 1700000000 },
		{ .type = 'F', .v.table = { inner, sizeof inner } },
		{ .type = 'V' },
		{ .type = 'x', .v.str = { (const uint8_t *)"\0\1\2", 3 } },
	};
	size_t at = amqp_buf_table_begin(b);

	*n_entries = 0;
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		char key[2] = { (char)vals[i].type, 0 };
		amqp_buf_put_shortstr(b, amqp_str_c(key));
		amqp_buf_put_value(b, &vals[i]);
		entry_ends[(*n_entries)++] = b->len - at - 4;
	}
	amqp_buf_put_shortstr(b, AMQP_STR_LIT("str"));
	amqp_buf_put_value_longstr(b, AMQP_STR_LIT("v"));
	entry_ends[(*n_entries)++] = b->len - at - 4;
	amqp_buf_put_shortstr(b, AMQP_STR_LIT("bool"));
	amqp_buf_put_value_bool(b, false);
	entry_ends[(*n_entries)++] = b->len - at - 4;
	amqp_buf_put_shortstr(b, AMQP_STR_LIT("long"));
	amqp_buf_put_value_long(b, 42);
	entry_ends[(*n_entries)++] = b->len - at - 4;
	amqp_buf_put_shortstr(b, AMQP_STR_LIT("ts"));
	amqp_buf_put_value_timestamp(b, 7);
	entry_ends[(*n_entries)++] = b->len - at - 4;
	amqp_buf_table_end(b, at);
}

START_TEST(every_type_round_trips_through_the_writer)
{
	struct amqp_buf b;
	size_t ends[32], n;
	struct amqp_table t;
	struct amqp_value v;
	int64_t i;

	amqp_buf_init(&b);
	build_every_type(&b, ends, &n);
	ck_assert(!b.oom);
	ck_assert_uint_eq(amqp_get_u32(b.data), b.len - 4);
	t = (struct amqp_table){ b.data + 4, (uint32_t)(b.len - 4) };
	ck_assert_int_eq(amqp_table_validate(t.ptr, t.len), 0);
	ck_assert_uint_eq(amqp_table_count(t), n);
	ck_assert(amqp_table_get(t, "b", &v));
	ck_assert_int_eq(v.v.i, -100);
	ck_assert(amqp_table_get(t, "s", &v));
	ck_assert_int_eq(v.v.i, -30000);
	ck_assert(amqp_table_get(t, "I", &v));
	ck_assert_int_eq(v.v.i, -2000000000);
	ck_assert(amqp_table_get(t, "i", &v));
	ck_assert_uint_eq(v.v.u, 4000000000u);
	ck_assert(amqp_table_get(t, "l", &v));
	ck_assert_int_eq(v.v.i, -9000000000000000000);
	ck_assert(amqp_table_get(t, "f", &v));
	ck_assert_float_eq(v.v.f, 0.25f);
	ck_assert(amqp_table_get(t, "d", &v));
	ck_assert_double_eq(v.v.d, 1e300);
	ck_assert(amqp_table_get(t, "D", &v));
	ck_assert_uint_eq(v.v.dec.value, 1234567);
	ck_assert(amqp_table_get(t, "A", &v));
	ck_assert_int_eq(amqp_array_validate(v.v.table.ptr, v.v.table.len), 0);
	ck_assert(amqp_table_get(t, "x", &v));
	ck_assert_uint_eq(v.v.str.len, 3);
	ck_assert(amqp_table_get(t, "long", &v));
	ck_assert(amqp_value_as_int(&v, &i));
	ck_assert_int_eq(i, 42);
	ck_assert(amqp_table_get(t, "bool", &v));
	ck_assert(!v.v.b);
	ck_assert(!amqp_table_get(t, "missing", &v));
	amqp_buf_free(&b);
}
END_TEST

START_TEST(truncated_table_is_rejected_at_every_length)
{
	struct amqp_buf b;
	size_t ends[32], n;

	amqp_buf_init(&b);
	build_every_type(&b, ends, &n);
	for (size_t len = 0; len < b.len - 4; len++) {
		bool boundary = len == 0;
		uint8_t *copy = malloc(len ? len : 1);

		for (size_t k = 0; k < n; k++)
			boundary |= ends[k] == len;
		memcpy(copy, b.data + 4, len);
		ck_assert_msg(amqp_table_validate(copy, len) == (boundary ? 0 : -1),
			      "prefix of %zu bytes", len);
		free(copy);
	}
	amqp_buf_free(&b);
}
END_TEST

START_TEST(unknown_type_octets_are_rejected)
{
	static const char known[] = "tbBsuIilLfdDSATFVx";

	for (int type = 0; type < 256; type++) {
		/* key "k", the type, then 8 zero bytes: enough for any fixed-size type, and a
		 * zero length for S, A, F and x */
		uint8_t entry[11] = { 1, 'k', (uint8_t)type };
		bool is_known = type != 0 && strchr(known, type) != NULL;
		size_t len = sizeof entry;

		if (is_known) /* trim to exactly one value so the rest is not read as entries */
			len = 3 + (strchr("tbB", type) ? 1 : strchr("su", type) ? 2 :
				   strchr("Iif", type) ? 4 : strchr("lLTd", type) ? 8 :
				   type == 'D' ? 5 : type == 'V' ? 0 : 4);
		ck_assert_msg(amqp_table_validate(entry, len) == (is_known ? 0 : -1), "type %d",
			      type);
		ck_assert_int_eq(amqp_array_validate(entry + 2, len - 2), is_known ? 0 : -1);
	}
}
END_TEST

START_TEST(lengths_past_the_end_are_rejected)
{
	static const uint8_t longstr[] = { 1, 'k', 'S', 0, 0, 0, 5, 'a', 'b' };
	static const uint8_t table[] = { 1, 'k', 'F', 0xff, 0xff, 0xff, 0xff };
	static const uint8_t array[] = { 1, 'k', 'A', 0, 0, 0, 1 };
	static const uint8_t bytes[] = { 1, 'k', 'x', 0x80, 0, 0, 0, 1 };
	static const uint8_t key[] = { 9, 'k', 'V' };

	ck_assert_int_eq(amqp_table_validate(longstr, sizeof longstr), -1);
	ck_assert_int_eq(amqp_table_validate(table, sizeof table), -1);
	ck_assert_int_eq(amqp_table_validate(array, sizeof array), -1);
	ck_assert_int_eq(amqp_table_validate(bytes, sizeof bytes), -1);
	ck_assert_int_eq(amqp_table_validate(key, sizeof key), -1);
}
END_TEST

START_TEST(malformed_nested_table_is_rejected)
{
	/* {k: {j: <type 'Z'>}} */
	static const uint8_t nested[] = { 1, 'k', 'F', 0, 0, 0, 3, 1, 'j', 'Z' };
	/* {k: [<type 'Z'>]} */
	static const uint8_t in_array[] = { 1, 'k', 'A', 0, 0, 0, 1, 'Z' };
	struct amqp_table_iter it;
	struct amqp_str k;
	struct amqp_value v;

	ck_assert_int_eq(amqp_table_validate(nested, sizeof nested), -1);
	ck_assert_int_eq(amqp_table_validate(in_array, sizeof in_array), -1);
	/* the iterator is shallow: it reads the outer entry, the inner one fails */
	amqp_table_iter_init(&it, (struct amqp_table){ nested, sizeof nested });
	ck_assert_int_eq(amqp_table_next(&it, &k, &v), 1);
	amqp_table_iter_init(&it, v.v.table);
	ck_assert_int_eq(amqp_table_next(&it, &k, &v), -1);
	ck_assert_int_eq(amqp_table_next(&it, &k, &v), 0);
}
END_TEST

/* Nests `depth` tables (or arrays) inside each other: the outermost is the table validated. */
static void build_nested(struct amqp_buf *b, unsigned depth, bool arrays)
{
	size_t at[64];

	amqp_buf_reset(b);
	for (unsigned d = 1; d < depth; d++) {
		if (!arrays)
			amqp_buf_put_shortstr(b, AMQP_STR_LIT("n"));
		amqp_buf_put_u8(b, arrays ? 'A' : 'F');
		at[d] = amqp_buf_table_begin(b);
	}
	for (unsigned d = depth - 1; d >= 1; d--)
		amqp_buf_table_end(b, at[d]);
}

START_TEST(nesting_up_to_the_limit_is_accepted_and_deeper_is_rejected)
{
	struct amqp_buf b;

	amqp_buf_init(&b);
	build_nested(&b, AMQP_TABLE_MAX_DEPTH, false);
	ck_assert_int_eq(amqp_table_validate(b.data, b.len), 0);
	build_nested(&b, AMQP_TABLE_MAX_DEPTH + 1, false);
	ck_assert_int_eq(amqp_table_validate(b.data, b.len), -1);
	build_nested(&b, AMQP_TABLE_MAX_DEPTH, true);
	ck_assert_int_eq(amqp_array_validate(b.data, b.len), 0);
	build_nested(&b, AMQP_TABLE_MAX_DEPTH + 1, true);
	ck_assert_int_eq(amqp_array_validate(b.data, b.len), -1);
	amqp_buf_free(&b);
}
END_TEST

START_TEST(type_names_are_rabbitmqs)
{
	static const struct {
		uint8_t type;
		const char *name;
	} names[] = {
		{ 't', "bool" },      { 'b', "byte" },         { 'B', "unsignedbyte" },
		{ 's', "short" },     { 'u', "unsignedshort" }, { 'I', "signedint" },
		{ 'i', "unsignedint" }, { 'l', "long" },        { 'f', "float" },
		{ 'd', "double" },    { 'D', "decimal" },      { 'S', "longstr" },
		{ 'A', "array" },     { 'T', "timestamp" },    { 'F', "table" },
		{ 'V', "void" },      { 'x', "binary" },
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		ck_assert_str_eq(amqp_value_type_name(names[i].type), names[i].name);
	ck_assert_str_eq(amqp_value_type_name('Z'), "unknown");
}
END_TEST

START_TEST(values_format_as_rabbitmq_prints_them)
{
	static const uint8_t arr[] = { 'I', 0, 0, 0, 5, 'S', 0, 0, 0, 1, 'z' };
	static const uint8_t tbl[] = { 1, 'k', 't', 1 };
	char out[64];
	struct amqp_value v = { .type = 'I', .v.i = 10 };

	ck_assert_int_eq(amqp_value_format(&v, out, sizeof out), 2);
	ck_assert_str_eq(out, "10");
	v = (struct amqp_value){ .type = 'l', .v.i = -5 };
	amqp_value_format(&v, out, sizeof out);
	ck_assert_str_eq(out, "-5");
	v = (struct amqp_value){ .type = 'i', .v.u = 4000000000u };
	amqp_value_format(&v, out, sizeof out);
	ck_assert_str_eq(out, "4000000000");
	v = (struct amqp_value){ .type = 't', .v.b = true };
	amqp_value_format(&v, out, sizeof out);
	ck_assert_str_eq(out, "true");
	v.v.b = false;
	amqp_value_format(&v, out, sizeof out);
	ck_assert_str_eq(out, "false");
	v = (struct amqp_value){ .type = 'S', .v.str = AMQP_STR_LIT("abc") };
	amqp_value_format(&v, out, sizeof out);
	ck_assert_str_eq(out, "abc");
	v = (struct amqp_value){ .type = 'D', .v.dec = { 2, 12345 } };
	amqp_value_format(&v, out, sizeof out);
	ck_assert_str_eq(out, "123.45");
	v = (struct amqp_value){ .type = 'D', .v.dec = { 4, 5 } };
	amqp_value_format(&v, out, sizeof out);
	ck_assert_str_eq(out, "0.0005");
	v = (struct amqp_value){ .type = 'A', .v.table = { arr, sizeof arr } };
	amqp_value_format(&v, out, sizeof out);
	ck_assert_str_eq(out, "[5,z]");
	v = (struct amqp_value){ .type = 'F', .v.table = { tbl, sizeof tbl } };
	amqp_value_format(&v, out, sizeof out);
	ck_assert_str_eq(out, "{k=true}");
}
END_TEST

START_TEST(format_truncates_like_snprintf)
{
	char out[4];
	struct amqp_value v = { .type = 'S', .v.str = AMQP_STR_LIT("abcdef") };

	ck_assert_int_eq(amqp_value_format(&v, out, sizeof out), 6);
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(amqp_value_format(&v, NULL, 0), 6);
}
END_TEST

START_TEST(integers_of_any_width_compare_by_value)
{
	struct amqp_value i32 = { .type = 'I', .v.i = 10 };
	struct amqp_value i64 = { .type = 'l', .v.i = 10 };
	struct amqp_value u8 = { .type = 'B', .v.u = 10 };
	struct amqp_value neg = { .type = 'l', .v.i = -1 };
	struct amqp_value big = { .type = 'T', .v.u = UINT64_MAX };
	struct amqp_value str = { .type = 'S', .v.str = AMQP_STR_LIT("10") };
	struct amqp_value bin = { .type = 'x', .v.str = AMQP_STR_LIT("10") };
	struct amqp_value f = { .type = 'f', .v.f = 2.0f };
	struct amqp_value d = { .type = 'd', .v.d = 2.0 };
	int64_t n;

	ck_assert(amqp_value_equal(&i32, &i64));
	ck_assert(amqp_value_equal(&u8, &i32));
	ck_assert(!amqp_value_equal(&neg, &big));
	ck_assert(!amqp_value_equal(&i32, &str));
	ck_assert(amqp_value_equal(&str, &bin));
	ck_assert(amqp_value_equal(&f, &d));
	ck_assert(!amqp_value_as_int(&big, &n));
	ck_assert(!amqp_value_as_int(&str, &n));
}
END_TEST

START_TEST(shortstr_writer_truncates_to_255_bytes)
{
	static char big[300];
	struct amqp_buf b;

	memset(big, 'a', sizeof big);
	amqp_buf_init(&b);
	amqp_buf_put_shortstr(&b, (struct amqp_str){ (uint8_t *)big, sizeof big });
	ck_assert_uint_eq(b.len, 256);
	ck_assert_uint_eq(b.data[0], 255);
	amqp_buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	amqp_buf_free(&b);
	amqp_buf_free(&b); /* free leaves it empty and reusable */
}
END_TEST

static Suite *table_suite(void)
{
	Suite *s = suite_create("amqp_table");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, every_type_decodes_from_hand_written_bytes);
	tcase_add_test(tc, every_type_round_trips_through_the_writer);
	tcase_add_test(tc, truncated_table_is_rejected_at_every_length);
	tcase_add_test(tc, unknown_type_octets_are_rejected);
	tcase_add_test(tc, lengths_past_the_end_are_rejected);
	tcase_add_test(tc, malformed_nested_table_is_rejected);
	tcase_add_test(tc, nesting_up_to_the_limit_is_accepted_and_deeper_is_rejected);
	tcase_add_test(tc, type_names_are_rabbitmqs);
	tcase_add_test(tc, values_format_as_rabbitmq_prints_them);
	tcase_add_test(tc, format_truncates_like_snprintf);
	tcase_add_test(tc, integers_of_any_width_compare_by_value);
	tcase_add_test(tc, shortstr_writer_truncates_to_255_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(table_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
